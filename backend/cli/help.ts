// `--help` for every command: usage (never cut), what it does, options, examples. A family with
// subcommands lists them under "commands:" and each subcommand has its own `--help`.

export interface Help {
  /** Full usage lines without the leading "usage: ". */
  usage: string[];
  summary: string;
  options?: [string, string][];
  notes?: string;
  examples: string[];
}

/** True (and the flag removed) when args ask for help: --help or -h anywhere. */
export function wantsHelp(args: string[]): boolean {
  const i = args.findIndex((a) => a === '--help' || a === '-h');
  if (i < 0) return false;
  args.splice(i, 1);
  return true;
}

export function helpText(h: Help, commands?: Record<string, Help>): string {
  const out = [h.usage.map((u, i) => (i ? '       ' : 'usage: ') + u).join('\n'), '', h.summary];
  if (commands) {
    out.push('', 'commands:');
    for (const [name, c] of Object.entries(commands)) out.push(`  ${name.padEnd(14)} ${c.summary}`);
    out.push('', `\`${h.usage[0]!.split(' ').slice(0, 2).join(' ')} <command> --help\` shows a command's options and examples.`);
  }
  if (h.options?.length) {
    out.push('', 'options:');
    for (const [o, text] of h.options) out.push(o.length > 26 ? `  ${o}\n  ${''.padEnd(26)} ${text}` : `  ${o.padEnd(26)} ${text}`);
  }
  if (h.notes) out.push('', h.notes);
  out.push('', 'examples:', ...h.examples.map((e) => `  ${e}`));
  return out.join('\n') + '\n';
}

/** Prints the help on stdout; exit code 0. */
export function showHelp(h: Help, commands?: Record<string, Help>): number {
  process.stdout.write(helpText(h, commands));
  return 0;
}

/** A usage mistake: what is wrong, then the usage and examples on stderr; exit code 2. */
export function usageError(command: string, message: string, h: Help, commands?: Record<string, Help>): number {
  process.stderr.write(`stillpoint ${command}: ${message}\n\n${helpText(h, commands)}`);
  return 2;
}

/** A subcommand called the wrong way, where its usage line says it all: that line on stderr; exit code 2. */
export function usageLine(family: string, usage: string): number {
  process.stderr.write(`usage: stillpoint ${family} ${usage}\n`);
  return 2;
}
