import type { Command } from 'commander';
import { UsageError } from '../output.js';

/** Every command path (`runs logs`) with its options, read from the program itself so it never drifts. */
function commandTree(root: Command): { path: string; subs: string[]; options: string[] }[] {
  const out: { path: string; subs: string[]; options: string[] }[] = [];
  const walk = (c: Command, path: string) => {
    const visible = c.commands.filter((s) => !(s as unknown as { _hidden?: boolean })._hidden);
    out.push({
      path,
      subs: visible.map((s) => s.name()),
      options: c.options.flatMap((o) => [o.long, o.short].filter((x): x is string => !!x)),
    });
    for (const sub of visible) walk(sub, path ? `${path} ${sub.name()}` : sub.name());
  };
  walk(root, '');
  return out;
}

/** `conveyor completion bash|zsh|fish`: a script completing commands, subcommands and options. */
export function completionScript(shell: string, root: Command): string {
  const tree = commandTree(root);
  const cases = tree
    .map((n) => `    '${n.path}') words='${[...n.subs, ...n.options, '--help'].join(' ')}' ;;`)
    .join('\n');
  const bash = `# conveyor completion for bash: source <(conveyor completion bash)
_conveyor() {
  local cur=\${COMP_WORDS[COMP_CWORD]} path='' w words
  for w in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    case "$w" in -*) ;; *) [ -n "$(_conveyor_words "\${path:+$path }$w")" ] && path="\${path:+$path }$w" ;; esac
  done
  COMPREPLY=($(compgen -W "$(_conveyor_words "$path")" -- "$cur"))
}
_conveyor_words() {
  local words=''
  case "$1" in
${cases}
  esac
  printf '%s' "$words"
}
complete -F _conveyor conveyor
`;
  switch (shell) {
    case 'bash':
      return bash;
    case 'zsh':
      return `# conveyor completion for zsh: source <(conveyor completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bash}`;
    case 'fish':
      return (
        `# conveyor completion for fish: conveyor completion fish | source\ncomplete -c conveyor -f\n` +
        tree
          .flatMap((n) => {
            const words = n.path.split(' ').filter(Boolean);
            const cond = words.length
              ? `__fish_seen_subcommand_from ${words.at(-1) ?? ''}`
              : '__fish_use_subcommand';
            return [
              ...n.subs.map((s) => `complete -c conveyor -n '${cond}' -a ${s}`),
              ...n.options
                .filter((o) => o.startsWith('--'))
                .map((o) => `complete -c conveyor -n '${cond}' -l ${o.slice(2)}`),
            ];
          })
          .join('\n') +
        '\n'
      );
    default:
      throw new UsageError(`no completion for shell '${shell}'`, 'conveyor completion bash | zsh | fish');
  }
}
