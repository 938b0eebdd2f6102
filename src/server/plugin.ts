import type { FastifyInstance, FastifyPluginAsync } from 'fastify';

/** A plugin whose routes are registered synchronously. */
export function plugin(register: (app: FastifyInstance) => void): FastifyPluginAsync {
  return (app) => {
    register(app);
    return Promise.resolve();
  };
}
