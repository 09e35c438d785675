// A small in-memory FHIR server for the test suite, usable by hand:
//   node tools/fhir-engine/server.mjs --port 8090 --fhir-version R5
// Validation is Medplum's (validator.mjs); storage and transactions are ours, because the stock
// Medplum router refuses conditional transactions over 8 entries and does not roll back.
// Transactions are all or nothing; an update equal to the stored resource keeps its version.
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { loadEngine, validate } from './validator.mjs';

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const port = Number(arg('--port', '8090'));
const version = arg('--fhir-version', 'R5');
const engine = loadEngine(version);

// "Type/id" -> { resource, versionId }, indexed by type and by identifier value so that a conditional
// write costs a lookup, not a scan of every resource. A transaction writes in place and keeps an undo
// log (each key's value before its first write), so a rollback restores exactly those keys: no copy of
// the whole store per transaction.
class Store {
  constructor() { this.clear(); }

  clear() {
    this.recs = new Map();
    this.byType = new Map(); // type -> Set of keys
    this.byValue = new Map(); // "type|identifier value" -> Set of keys (the system is checked on match)
    this.undo = null;
  }

  get(key) { return this.recs.get(key); }
  has(key) { return this.recs.has(key); }

  // What `key` held before the running transaction (its current value outside one).
  before(key) { return this.undo?.has(key) ? this.undo.get(key) : this.recs.get(key); }

  #index(key, rec, add) {
    const type = key.slice(0, key.indexOf('/'));
    const names = [type, ...(rec.resource.identifier ?? []).map((i) => `${type}|${i.value}`)];
    for (const [i, name] of names.entries()) {
      const map = i === 0 ? this.byType : this.byValue;
      let keys = map.get(name);
      if (add) { if (!keys) map.set(name, (keys = new Set())); keys.add(key); }
      else if (keys) { keys.delete(key); if (!keys.size) map.delete(name); }
    }
  }

  #put(key, rec) {
    const old = this.recs.get(key);
    if (old) this.#index(key, old, false);
    if (rec) { this.recs.set(key, rec); this.#index(key, rec, true); }
    else this.recs.delete(key);
  }

  set(key, rec) {
    if (this.undo && !this.undo.has(key)) this.undo.set(key, this.recs.get(key));
    this.#put(key, rec);
  }

  // Candidate keys of `type` for a search: those holding an identifier with this value, or every one.
  candidates(type, identifierValue) {
    const keys = identifierValue === undefined ? this.byType.get(type) : this.byValue.get(`${type}|${identifierValue}`);
    return keys ? [...keys] : [];
  }

  begin() { this.undo = new Map(); }
  commit() { this.undo = null; }
  rollback() {
    for (const [key, rec] of this.undo ?? []) this.#put(key, rec);
    this.undo = null;
  }
}
const store = new Store();

class FhirError extends Error {
  constructor(status, text, expression) {
    super(text);
    this.status = status;
    this.expression = expression;
  }
}

function outcome(severity, code, text, expression) {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, details: { text }, ...(expression ? { expression } : {}) }] };
}


function stable(value) {
  if (Array.isArray(value)) return value.map(stable);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, stable(value[k])]));
  }
  return value;
}

function sameContent(a, b) {
  const strip = ({ meta, id, ...rest }) => stable(rest);
  return JSON.stringify(strip(a)) === JSON.stringify(strip(b));
}

function identifierMatches(resource, param) {
  const bar = param.indexOf('|');
  const system = bar >= 0 ? param.slice(0, bar) : null;
  const value = bar >= 0 ? param.slice(bar + 1) : param;
  return (resource.identifier ?? []).some((i) => i.value === value && (system === null || (i.system ?? '') === system));
}

function search(view, type, query) {
  const params = new URLSearchParams(query);
  const ident = params.get('identifier');
  const value = ident === null ? undefined : ident.slice(ident.indexOf('|') + 1);
  const out = [];
  for (const key of view.candidates(type, value)) {
    const rec = view.get(key);
    let ok = true;
    for (const [name, val] of params) {
      if (name === 'identifier') ok &&= identifierMatches(rec.resource, val);
      else if (name === '_id') ok &&= rec.resource.id === val;
      else if (name.startsWith('_')) continue;
      else throw new FhirError(400, `search parameter '${name}' is not supported by this test server`);
    }
    if (ok) out.push(rec);
  }
  return out;
}

function withMeta(resource, id, versionId) {
  return { ...resource, id, meta: { ...(resource.meta ?? {}), versionId: String(versionId), lastUpdated: new Date().toISOString() } };
}

function rewriteRefs(value, map) {
  if (Array.isArray(value)) return value.map((v) => rewriteRefs(v, map));
  if (value && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = k === 'reference' && typeof v === 'string' && map.has(v) ? map.get(v) : rewriteRefs(v, map);
    }
    return out;
  }
  return value;
}

function refsOf(value, out = []) {
  if (Array.isArray(value)) value.forEach((v) => refsOf(v, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'reference' && typeof v === 'string') out.push(v);
      else refsOf(v, out);
    }
  }
  return out;
}

function check(resource, where) {
  const issues = validate(engine, resource);
  if (issues.length) {
    const first = issues[0];
    const text = first.details?.text ?? first.diagnostics ?? 'invalid';
    const exprs = first.expression ?? [];
    const err = new FhirError(400, `${where}: ${text}${exprs.length ? ` at ${exprs.join(', ')}` : ''}`, exprs);
    err.issues = issues;
    throw err;
  }
}

// Applies one write to `view` (the store, its undo log recording what was there).
function write(view, method, url, resource, ifNoneExist, where) {
  const [path, query] = url.split('?');
  const type = path.split('/')[0];
  if (resource && resource.resourceType !== type) throw new FhirError(400, `${where}: resource type ${resource.resourceType} does not match ${url}`);
  if (method === 'POST') {
    if (ifNoneExist) {
      const found = search(view, type, ifNoneExist);
      if (found.length > 1) throw new FhirError(412, `${where}: ifNoneExist ${ifNoneExist} matches ${found.length} resources`);
      if (found.length === 1) return { status: '200 OK', rec: found[0], outcome: 'unchanged' };
    }
    const id = randomUUID();
    const rec = { resource: withMeta(resource, id, 1), versionId: 1 };
    view.set(`${type}/${id}`, rec);
    return { status: '201 Created', rec, outcome: 'created' };
  }
  if (method === 'PUT') {
    let id = path.split('/')[1];
    if (!id) {
      const found = search(view, type, query ?? '');
      if (found.length > 1) throw new FhirError(412, `${where}: conditional update ${url} matches ${found.length} resources`);
      id = found.length === 1 ? found[0].resource.id : randomUUID();
    }
    const prior = view.get(`${type}/${id}`);
    if (!prior) {
      const rec = { resource: withMeta(resource, id, 1), versionId: 1 };
      view.set(`${type}/${id}`, rec);
      return { status: '201 Created', rec, outcome: 'created' };
    }
    if (sameContent(prior.resource, resource)) return { status: '200 OK', rec: prior, outcome: 'unchanged' };
    const rec = { resource: withMeta(resource, id, prior.versionId + 1), versionId: prior.versionId + 1 };
    view.set(`${type}/${id}`, rec);
    return { status: '200 OK', rec, outcome: 'updated' };
  }
  throw new FhirError(405, `${where}: method ${method} is not supported in a transaction by this test server`);
}

function responseEntry(result) {
  const r = result.rec.resource;
  const entry = {
    response: {
      status: result.status,
      location: `${r.resourceType}/${r.id}/_history/${result.rec.versionId}`,
      etag: `W/"${result.rec.versionId}"`,
      lastModified: r.meta.lastUpdated,
    },
  };
  if (result.outcome === 'unchanged') {
    // As HAPI does: a no-op update says so, and keeps its version.
    entry.response.outcome = {
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'information', code: 'informational', details: { coding: [{ code: 'SUCCESSFUL_UPDATE_NO_CHANGE' }], text: 'No change' } }],
    };
  }
  return entry;
}

function transaction(bundle) {
  store.begin();
  try {
    const response = apply(bundle, store);
    store.commit(); // all or nothing: an exception anywhere undoes every write
    return response;
  } catch (err) {
    store.rollback();
    throw err;
  }
}

function apply(bundle, view) {
  const entries = bundle.entry ?? [];
  const isTx = bundle.type === 'transaction';
  const where = (i, e) => `Bundle.entry[${i}]${e.fullUrl ? ` (${e.fullUrl})` : ''}`;
  entries.forEach((e, i) => {
    if (!e.request?.method || !e.request?.url) throw new FhirError(400, `${where(i, e)}: entry has no request`, [`Bundle.entry[${i}].request`]);
    if (!e.resource) throw new FhirError(400, `${where(i, e)}: entry has no resource`, [`Bundle.entry[${i}]`]);
  });
  // Resolve each entry's target id first, so that references between entries can be rewritten.
  const results = entries.map((e, i) => {
    return { i, e, result: write(view, e.request.method, e.request.url, e.resource, e.request.ifNoneExist, where(i, e)) };
  });
  const map = new Map();
  for (const { e, result } of results) {
    if (e.fullUrl) map.set(e.fullUrl, `${result.rec.resource.resourceType}/${result.rec.resource.id}`);
  }
  for (const { i, e, result } of results) {
    if (result.outcome === 'unchanged' && e.request.method === 'POST') continue; // matched: not validated, as HAPI
    const key = `${result.rec.resource.resourceType}/${result.rec.resource.id}`;
    const rewritten = rewriteRefs(e.resource, map);
    const fresh = result.outcome === 'created';
    // Compare the rewritten content with what was stored before this transaction.
    const before = view.before(key);
    // Only what will be written is validated: content equal to the stored (validated) one is not.
    if (fresh || !before || !sameContent(before.resource, rewritten)) check(e.resource, `${where(i, e)} ${e.resource.resourceType}`);
    let rec;
    if (fresh) rec = { resource: withMeta(rewritten, result.rec.resource.id, 1), versionId: 1 };
    else if (before && sameContent(before.resource, rewritten)) { rec = before; result.outcome = 'unchanged'; result.status = '200 OK'; }
    else { const v = (before?.versionId ?? 0) + 1; rec = { resource: withMeta(rewritten, result.rec.resource.id, v), versionId: v }; result.outcome = before ? 'updated' : 'created'; }
    view.set(key, rec);
    result.rec = rec;
    for (const ref of refsOf(rewritten)) {
      if (ref.startsWith('#') || /^https?:/.test(ref)) continue;
      if (ref.startsWith('urn:uuid:') || !view.has(ref.split('/_history')[0])) {
        if (isTx) throw new FhirError(400, `${where(i, e)}: reference ${ref} does not resolve`, [`Bundle.entry[${i}].resource`]);
      }
    }
  }
  if (!isTx) throw new FhirError(400, 'only transaction Bundles are supported by this test server');
  return { resourceType: 'Bundle', type: 'transaction-response', entry: results.map(({ result }) => responseEntry(result)) };
}

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/fhir+json' });
  res.end(text);
}

function searchset(recs) {
  return { resourceType: 'Bundle', type: 'searchset', total: recs.length, entry: recs.map((r) => ({ fullUrl: `${r.resource.resourceType}/${r.resource.id}`, resource: r.resource, search: { mode: 'match' } })) };
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    try {
      const url = new URL(req.url, 'http://localhost');
      const parts = url.pathname.split('/').filter(Boolean);
      const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : null;
      if (req.method === 'GET' && parts[0] === 'metadata') {
        return send(res, 200, { resourceType: 'CapabilityStatement', status: 'active', kind: 'instance', fhirVersion: version === 'R5' ? '5.0.0' : '4.3.0', format: ['json'] });
      }
      if (req.method === 'DELETE' && parts.length === 0) {
        store.clear(); // test server only: a clean slate between tests
        return send(res, 200, outcome('information', 'informational', 'store cleared'));
      }
      if (req.method === 'POST' && parts.length === 0) return send(res, 200, transaction(body));
      if (req.method === 'POST' && parts[0] === '$validate') {
        const issues = validate(engine, body);
        return send(res, 200, { resourceType: 'OperationOutcome', issue: issues.length ? issues : [{ severity: 'information', code: 'informational', details: { text: 'valid' } }] });
      }
      if (req.method === 'GET' && parts.length === 1) return send(res, 200, searchset(search(store, parts[0], url.search.slice(1))));
      if (req.method === 'GET' && parts.length === 2) {
        const rec = store.get(`${parts[0]}/${parts[1]}`);
        return rec ? send(res, 200, rec.resource) : send(res, 404, outcome('error', 'not-found', `${parts[0]}/${parts[1]} not found`));
      }
      if (req.method === 'PUT' || req.method === 'POST') {
        const tx = { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: body, request: { method: req.method, url: url.pathname.slice(1) + url.search } }] };
        const r = transaction(tx).entry[0];
        const rec = store.get(r.response.location.split('/_history')[0]);
        return send(res, Number(r.response.status.slice(0, 3)), rec.resource);
      }
      return send(res, 404, outcome('error', 'not-supported', `${req.method} ${url.pathname} is not supported by this test server`));
    } catch (err) {
      if (err instanceof FhirError) {
        const oo = outcome('error', err.status === 412 ? 'multiple-matches' : 'invalid', err.message, err.expression?.length ? err.expression : undefined);
        if (err.issues?.length > 1) oo.issue.push(...err.issues.slice(1));
        return send(res, err.status, oo);
      }
      if (err instanceof SyntaxError) return send(res, 400, outcome('error', 'structure', `body is not JSON: ${err.message}`));
      return send(res, 500, outcome('fatal', 'exception', String(err?.stack ?? err)));
    }
  });
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`fhir-engine ${version} listening on http://127.0.0.1:${port}\n`);
});
