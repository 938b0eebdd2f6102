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
import { createHash } from 'node:crypto';
import type { Repo } from '../../ports/directory-store.js';
import type { RunRecord } from '../../core/run/model.js';

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
        let payload: unknown;
        try {
          payload = JSON.parse(body.toString('utf8'));
        } catch {
          throw invalid(
            'the webhook body is not JSON; configure the webhook with content type application/json',
          );
        }
        if (payload === null || typeof payload !== 'object' || Array.isArray(payload))
          throw invalid('the webhook body must be a JSON object, as GitHub and GitLab send');
        const event: WebhookEvent =
          provider === 'github'
            ? parseGithub(header('x-github-event'), payload)
            : parseGitlab(header('x-gitlab-event'), payload);
        const name = `${repo.orgSlug}/${repo.slug}`;
        const what = header(provider === 'github' ? 'x-github-event' : 'x-gitlab-event') ?? 'unknown';
        if (event.kind === 'invalid') {
          ctx.ops?.webhookReceived(name, provider, what, `refused (${event.reason})`);
          throw invalid(event.reason);
        }
        if (event.kind === 'ignored') {
          ctx.ops?.webhookReceived(name, provider, what, `ignored (${event.reason})`);
          return reply.code(202).send({ accepted: false, reason: event.reason });
        }
        // The signature covers the body only: a captured delivery replayed (under any delivery id)
        // starts nothing the second time (D12).
        const digest = createHash('sha256').update(`${provider}\0`).update(body).digest('hex');
        const delivery = header('x-github-delivery') ?? header('x-gitlab-event-uuid') ?? '';
        if (
          !(await services.directory.recordWebhookDelivery(repo.id, digest, delivery, services.clock.now()))
        ) {
          ctx.ops?.webhookReceived(name, provider, what, 'ignored (received before)');
          return reply.code(202).send({ accepted: false, reason: 'this delivery was received before' });
        }
        const run = await startFor(services, repo, event).catch((error: unknown) => {
          // A commit the repository does not have (yet): the sender's problem, not the server's.
          if (error instanceof Error && /does not exist|is not in .* any more/.test(error.message))
            throw invalid(`${error.message}; push it first, or redeliver once it is there`);
          throw error;
        });
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

function startFor(
  services: ServerContext['services'],
  repo: Repo,
  event: Extract<WebhookEvent, { kind: 'push' | 'pull_request' }>,
): Promise<RunRecord | undefined> {
  return event.kind === 'push'
    ? handlePush(services, repo, event.notice, 'webhook')
    : handlePullRequest(services, repo, event.notice);
}
