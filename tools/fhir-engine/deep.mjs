// Offline deep validation for `trial2fhir validate --deep`:
//   node tools/fhir-engine/deep.mjs --fhir-version R5 FILE...
// Prints one JSON line per file: {"file", "problems": [{"resource", "path", "message"}]}.
import { readFileSync } from 'node:fs';
import { loadEngine, validate } from './validator.mjs';

const args = process.argv.slice(2);
const vi = args.indexOf('--fhir-version');
const version = vi >= 0 ? args[vi + 1] : 'R5';
const files = args.filter((_, i) => i !== vi && i !== vi + 1);
const engine = loadEngine(version);
for (const file of files) {
  const problems = [];
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    const items = doc.resourceType === 'Bundle' && doc.entry
      ? doc.entry.map((e, i) => [e.resource, `Bundle.entry[${i}]${e.fullUrl ? ` (${e.fullUrl})` : ''}`])
      : [[doc, doc.resourceType ?? '?']];
    if (doc.resourceType === 'Bundle') {
      const { entry, ...shell } = doc;
      for (const issue of validate(engine, shell)) problems.push(toProblem('Bundle', issue));
    }
    for (const [res, where] of items) {
      if (!res) continue;
      for (const issue of validate(engine, res)) problems.push(toProblem(`${where} ${res.resourceType}/${res.id ?? ''}`.trim(), issue));
    }
  } catch (err) {
    problems.push({ resource: '', path: '', message: String(err?.message ?? err) });
  }
  process.stdout.write(`${JSON.stringify({ file, problems })}\n`);
}

function toProblem(resource, issue) {
  return { resource, path: (issue.expression ?? []).join(', '), message: issue.details?.text ?? issue.diagnostics ?? issue.code };
}
