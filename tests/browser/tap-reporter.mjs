// A TAP reporter for node:test that Meson's TAP parser reads without
// complaint: one line per test, everything else (the error, its stack,
// the console output) as "# " comment lines instead of YAML blocks.
//
// node --test-reporter=./tap-reporter.mjs run.mjs ...

function comment(text) {
  return String(text)
    .replace(/\x1b\[[0-9;]*m/g, '') // no terminal colours in the log
    .split('\n')
    .map((line) => `# ${line}`.trimEnd())
    .join('\n') + '\n';
}

function describe(error) {
  if (!error) return '';
  const inner = error.cause || error;
  const parts = [];
  if (inner.message) parts.push(inner.message);
  if (inner.stack) parts.push(inner.stack.split('\n').filter((l) => /^\s+at /.test(l)).slice(0, 6).join('\n'));
  return parts.join('\n');
}

export default async function* tapReporter(source) {
  let count = 0;
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const started = Date.now();
  yield 'TAP version 13\n';
  for await (const event of source) {
    const data = event.data || {};
    switch (event.type) {
      case 'test:pass':
        if (data.nesting !== 0) break;
        count += 1;
        if (data.skip || data.todo) {
          skipped += 1;
          yield `ok ${count} - ${data.name} # SKIP\n`;
        } else {
          passed += 1;
          yield `ok ${count} - ${data.name}\n`;
          yield `# ${data.name}: ${Math.round(data.details.duration_ms)} ms\n`;
        }
        break;
      case 'test:fail':
        if (data.nesting !== 0) break;
        count += 1;
        failed += 1;
        yield `not ok ${count} - ${data.name}\n`;
        yield comment(describe(data.details && data.details.error));
        break;
      case 'test:diagnostic':
        if (!/^(tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) /.test(data.message)) yield comment(data.message);
        break;
      case 'test:stdout':
      case 'test:stderr':
        yield comment(data.message.replace(/\n$/, ''));
        break;
      default:
        break;
    }
  }
  yield `1..${count}\n`;
  yield `# tests ${count}\n# pass ${passed}\n# fail ${failed}\n# skipped ${skipped}\n`;
  yield `# duration_ms ${Date.now() - started}\n`;
}
