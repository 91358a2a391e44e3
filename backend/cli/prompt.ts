// Reads a secret from the terminal without echoing it. Refuses when stdin is not a terminal, so a
// script never hangs waiting for input it cannot give.
// `envName` is the variable that gives the secret instead, named when there is no terminal.
export async function promptSecret(question: string, envName?: string): Promise<string> {
  if (!process.stdin.isTTY) {
    throw new Error(`no terminal to ask on (input is piped or redirected): ${envName ? `set ${envName} instead, e.g. ${envName}=… stillpoint …` : 'set it in the environment instead'}`);
  }
  process.stderr.write(question);
  process.stdin.setRawMode(true);
  process.stdin.resume();
  process.stdin.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let s = '';
    const onData = (c: string) => {
      for (const ch of c) {
        if (ch === '\r' || ch === '\n') { done(); resolve(s); return; }
        if (ch === '\u0003') { done(); reject(new Error('cancelled')); return; }
        if (ch === '\u007f' || ch === '\b') s = s.slice(0, -1);
        else s += ch;
      }
    };
    const done = () => {
      process.stdin.off('data', onData);
      process.stdin.setRawMode(false);
      process.stdin.pause();
      process.stderr.write('\n');
    };
    process.stdin.on('data', onData);
  });
}
