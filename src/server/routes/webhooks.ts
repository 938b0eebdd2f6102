import type { FastifyPluginAsync } from 'fastify';
import { plugin } from '../plugin.js';
import { AppError, invalid } from '../../app/errors.js';
import { handlePullRequest, handlePush } from '../../app/git-events.js';
import {
  parseGithub,
  parseGitlab,
  verifyGithubSignature,
  verifyGitlabToken,
  type WebhookEvent,
} from '../../app/webhooks.js';
import type { ServerContext } from '../context.js';

/**
 * Push and pull-request webhooks of GitHub and GitLab. They carry no token: the signature (GitHub)
 * or shared token (GitLab) is the authentication, checked against the raw body before anything is
 * parsed. Unknown repositories and bad signatures get the same 401, so a caller learns nothing.
 */
export function webhookRoutes(ctx: ServerContext): FastifyPluginAsync {
  const { services } = ctx;
  return plugin((app) => {
    app.addContentTypeParser(
      ['application/json', 'application/x-www-form-urlencoded'],
      { parseAs: 'buffer' },
      (_req, body, done) => done(null, body),
    );

    app.post<{ Params: { org_slug: string; repo_slug: string; provider: string }; Body: Buffer }>(
      '/repos/:org_slug/:repo_slug/cicd/webhooks/:provider',
      { schema: { tags: ['Webhooks'] } },
      async (request, reply) => {
        const { provider } = request.params;
        if (provider !== 'github' && provider !== 'gitlab')
          throw new AppError('NotFound', `no webhook provider '${provider}': use github or gitlab`);
        const repo = await services.directory.findRepo(
          request.params.org_slug.toLowerCase(),
          request.params.repo_slug.toLowerCase(),
        );
        const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const header = (name: string) => {
          const v = request.headers[name];
          return Array.isArray(v) ? v[0] : v;
        };
        const secret = repo ? ctx.box.decrypt(repo.webhookSecretEnc) : undefined;
        const verified =
          secret !== undefined &&
          (provider === 'github'
            ? verifyGithubSignature(secret, body, header('x-hub-signature-256'))
            : verifyGitlabToken(secret, header('x-gitlab-token')));
        if (!repo || !verified) {
          ctx.log(
            `refused ${provider} webhook for ${request.params.org_slug}/${request.params.repo_slug} from ${request.ip}: ${repo ? 'signature does not verify' : 'unknown repository'} (request ${request.id})`,
          );
          throw new AppError(
            'Unauthenticated',
            'the webhook signature does not verify; check the secret configured for this repository',
          );
        }
        let payload: Record<string, unknown>;
        try {
          payload = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
        } catch {
          throw invalid(
            'the webhook body is not JSON; configure the webhook with content type application/json',
          );
        }
        const event: WebhookEvent =
          provider === 'github'
            ? parseGithub(header('x-github-event'), payload)
            : parseGitlab(header('x-gitlab-event'), payload);
        const name = `${repo.orgSlug}/${repo.slug}`;
        const what = header(provider === 'github' ? 'x-github-event' : 'x-gitlab-event') ?? 'unknown';
        if (event.kind === 'ignored') {
          ctx.ops?.webhookReceived(name, provider, what, `ignored (${event.reason})`);
          return reply.code(202).send({ accepted: false, reason: event.reason });
        }
        const run =
          event.kind === 'push'
            ? await handlePush(services, repo, event.notice, 'webhook')
            : await handlePullRequest(services, repo, event.notice);
        ctx.ops?.webhookReceived(name, provider, what, run ? `run #${run.slug}` : 'no run');
        return reply.code(202).send({
          accepted: true,
          run_slug: run?.slug ?? null,
          ...(run ? {} : { reason: 'no workflow matches this event' }),
        });
      },
    );
  });
}
