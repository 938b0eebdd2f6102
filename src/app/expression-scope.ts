import type { ExprRef } from '../core/config/expressions.js';
import { substitute } from '../core/config/expressions.js';
import type { TaskRun, WorkflowRun } from '../core/run/model.js';

/** The values of one `${{ tokens.NAME.* }}`. */
export interface TokenValues {
  id_token: string;
  service_account_id: string;
  folder_id: string;
}

/**
 * Resolves `${{ }}` references at the moment a cube starts, against what has run so far.
 * `env` is the environment as it stands at the scope being resolved (see cube-runner's buildEnv):
 * `${{ env.NAME }}` reads it, and a name it lacks is empty, like an unset shell variable.
 */
export class ExpressionScope {
  readonly missing: ExprRef[] = [];
  env: Record<string, string> = {};

  constructor(
    private readonly secrets: Record<string, string>,
    private readonly workflow: WorkflowRun,
    private readonly task?: TaskRun,
    private readonly tokens: Record<string, TokenValues> = {},
  ) {}

  resolve(text: string): string {
    return substitute(text, (ref) => this.lookup(ref), this.missing);
  }

  resolveAll(values: Record<string, string>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(values)) out[key] = this.resolve(value);
    return out;
  }

  private lookup(ref: ExprRef): string | undefined {
    const [name = '', second = '', key = ''] = ref.path;
    switch (ref.context) {
      case 'secrets':
        return Object.hasOwn(this.secrets, name) ? this.secrets[name] : undefined;
      case 'inputs':
        return this.workflow.spec.inputs[name] ?? '';
      case 'env':
        return Object.hasOwn(this.env, name) ? this.env[name] : '';
      case 'cubes':
        return this.task?.cubes.find((c) => c.slug === name)?.outputs[key] ?? '';
      case 'tasks':
        return this.workflow.tasks.find((t) => t.slug === name)?.outputs[key] ?? '';
      case 'tokens': {
        const token = Object.hasOwn(this.tokens, name) ? this.tokens[name] : undefined;
        return token && Object.hasOwn(token, second) ? token[second as keyof TokenValues] : undefined;
      }
      default:
        return undefined;
    }
  }

  /** A message naming what could not be resolved, or undefined when everything was. */
  problem(): string | undefined {
    if (this.missing.length === 0) return undefined;
    const names = [...new Set(this.missing.map((m) => m.raw))];
    const secrets = this.missing.filter((m) => m.context === 'secrets').map((m) => m.path[0]);
    const hint = secrets.length ? `; set it with --secret ${secrets[0]}=... or --secrets-file` : '';
    return `unresolved ${names.join(', ')}${hint}`;
  }
}
