import { EventEmitter } from 'node:events';
import type { RunStatus } from '../core/run/status.js';
import type { NodeKind } from './run-engine.js';

export type RunEvent =
  | { type: 'status'; kind: NodeKind; path: string[]; status: RunStatus; at: number }
  | { type: 'output'; path: string[]; text: string; at: number };

/**
 * What runs executing in this process are doing, for live streams (server-sent events). A
 * subscriber sees events from the moment it subscribes; it reads what came before from the store.
 */
export class RunEvents {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  publish(runId: string, event: RunEvent): void {
    this.emitter.emit(runId, event);
  }

  subscribe(runId: string, listener: (event: RunEvent) => void): () => void {
    this.emitter.on(runId, listener);
    return () => this.emitter.off(runId, listener);
  }
}
