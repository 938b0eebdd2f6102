import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../app/errors.js';
import { plugin } from '../plugin.js';
import { loadAssets, pickEncoding, type Asset } from './ui-assets.js';

/** No inline script or style, nothing from elsewhere, no framing. */
export const UI_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The web UI under /ui/: hashed assets cached for a year, index.html (no-store) for every other
 * path so pasted URLs open their page; `/` redirects here. Files are served precompressed.
 */
export function uiRoutes(dir: string | undefined): FastifyPluginAsync {
  const assets = dir ? loadAssets(dir) : new Map<string, Asset>();

  const send = (request: FastifyRequest, reply: FastifyReply, asset: Asset) => {
    const { body, encoding } = pickEncoding(asset, request.headers['accept-encoding']);
    reply
      .type(asset.type)
      .header('vary', 'accept-encoding')
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    if (encoding) reply.header('content-encoding', encoding);
    if (asset.type.startsWith('text/html'))
      reply
        .header('content-security-policy', UI_CSP)
        .header('referrer-policy', 'same-origin')
        .header('x-frame-options', 'DENY');
    return reply.send(body);
  };

  return plugin((app) => {
    app.get('/', { schema: { hide: true } }, (_request, reply) => reply.redirect('/ui/', 302));
    app.get('/ui', { schema: { hide: true } }, (_request, reply) => reply.redirect('/ui/', 301));
    app.get<{ Params: { '*': string } }>('/ui/*', { schema: { hide: true } }, (request, reply) => {
      const path = request.params['*'];
      const file = assets.get(path);
      if (file) return send(request, reply, file);
      if (path.startsWith('assets/')) throw new AppError('NotFound', `no UI asset ${path}`);
      const index = assets.get('index.html');
      if (!index)
        throw new AppError(
          'Unavailable',
          'the web UI is not built: run `npm run build` (npm ci builds it too)',
        );
      return send(request, reply, index);
    });
  });
}
