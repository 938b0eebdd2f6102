import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  type: string;
  body: Buffer;
  gzip?: Buffer;
  br?: Buffer;
  /** Vite puts a content hash in every name under assets/: cached for a year, never revalidated. */
  immutable: boolean;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
  '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Where the built UI is: CONVEYOR_UI_DIR, else `ui/` beside the bundled CLI (dist/conveyor.mjs), else
 * dist/ui of the package when running the compiled sources (dist/src/server/ui/).
 */
export function findUiDir(env: NodeJS.ProcessEnv): string | undefined {
  if (env.CONVEYOR_UI_DIR) return env.CONVEYOR_UI_DIR;
  const here = dirname(fileURLToPath(import.meta.url));
  for (const dir of [join(here, 'ui'), join(here, '..', '..', '..', 'ui')])
    if (existsSync(join(dir, 'index.html'))) return dir;
  return undefined;
}

/** Every file of the built UI in memory, with the .gz and .br twins the build wrote beside it. */
export function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const walk = (at: string) => {
    for (const name of readdirSync(at)) {
      const path = join(at, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (!name.endsWith('.gz') && !name.endsWith('.br')) {
        const key = relative(dir, path).split(sep).join('/');
        const twin = (ext: string) => (existsSync(path + ext) ? readFileSync(path + ext) : undefined);
        const gzip = twin('.gz');
        const br = twin('.br');
        assets.set(key, {
          type: TYPES[extname(name)] ?? 'application/octet-stream',
          body: readFileSync(path),
          ...(gzip ? { gzip } : {}),
          ...(br ? { br } : {}),
          immutable: key.startsWith('assets/'),
        });
      }
    }
  };
  walk(dir);
  return assets;
}

/** The body to send for an Accept-Encoding header, and its Content-Encoding. */
export function pickEncoding(asset: Asset, accept: string | undefined): { body: Buffer; encoding?: string } {
  const accepted = (accept ?? '').toLowerCase();
  if (asset.br && /\bbr\b/.test(accepted)) return { body: asset.br, encoding: 'br' };
  if (asset.gzip && /\bgzip\b/.test(accepted)) return { body: asset.gzip, encoding: 'gzip' };
  return { body: asset.body };
}
