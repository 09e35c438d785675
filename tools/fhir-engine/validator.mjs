// Validation for the test engine and `validate --deep`: Medplum's validator (structure,
// cardinality, types, FHIRPath invariants) over HL7's core StructureDefinitions, plus the
// required-binding code check Medplum lacks, from the same package's ValueSets and CodeSystems.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';

const PACKAGES = { R5: 'hl7.fhir.r5.core', R4B: 'hl7.fhir.r4b.core' };

function packageDir(version) {
  const name = PACKAGES[version];
  if (!name) throw new Error(`unknown FHIR version ${version} (R5 or R4B)`);
  const require = createRequire(import.meta.url);
  return dirname(require.resolve(`${name}/package.json`));
}

export function loadEngine(version) {
  const dir = packageDir(version);
  const sds = new Map();
  const valueSets = new Map();
  const codeSystems = new Map();
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.json')) continue;
    const prefix = file.split('-')[0];
    if (prefix !== 'StructureDefinition' && prefix !== 'ValueSet' && prefix !== 'CodeSystem') continue;
    const res = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    if (res.resourceType === 'StructureDefinition') {
      // Base types only: profiles and extensions are not what a Bundle is checked against here.
      if (res.derivation === 'constraint' || res.kind === 'logical') continue;
      sds.set(res.type, res);
    } else if (res.resourceType === 'ValueSet') {
      valueSets.set(res.url, res);
    } else if (res.resourceType === 'CodeSystem') {
      codeSystems.set(res.url, res);
    }
  }
  indexStructureDefinitionBundle([...sds.values()]);
  return { version, sds, valueSets, codeSystems, expansions: new Map() };
}

function codesOf(concepts, out) {
  for (const c of concepts ?? []) {
    out.add(c.code);
    codesOf(c.concept, out);
  }
}

// The codes of a required ValueSet as "system|code", or null when it cannot be enumerated from
// the package (filters, external code systems): such bindings are not checked rather than guessed.
function expand(engine, url) {
  const key = url.split('|')[0];
  if (engine.expansions.has(key)) return engine.expansions.get(key);
  engine.expansions.set(key, null); // guards cycles
  const vs = engine.valueSets.get(key);
  let result = null;
  if (vs?.compose?.include && !vs.compose.exclude) {
    result = new Set();
    for (const inc of vs.compose.include) {
      if (inc.filter?.length) { result = null; break; }
      for (const sub of inc.valueSet ?? []) {
        const s = expand(engine, sub);
        if (!s) { result = null; break; }
        for (const c of s) result.add(c);
      }
      if (!result) break;
      if (!inc.system) continue;
      const codes = new Set();
      if (inc.concept) {
        for (const c of inc.concept) codes.add(c.code);
      } else {
        const cs = engine.codeSystems.get(inc.system);
        if (!cs || cs.content !== 'complete') { result = null; break; }
        codesOf(cs.concept, codes);
      }
      for (const c of codes) result.add(`${inc.system}|${c}`);
    }
  }
  engine.expansions.set(key, result);
  return result;
}

const CODED = new Set(['code', 'Coding', 'CodeableConcept']);

function checkCoded(engine, value, typeCode, allowed, path, issues) {
  const codesOnly = new Set([...allowed].map((c) => c.slice(c.lastIndexOf('|') + 1)));
  const bad = (shown) => issues.push({
    severity: 'error', code: 'code-invalid',
    details: { text: `${shown} is not in the required value set` },
    expression: [path],
  });
  if (typeCode === 'code') {
    if (typeof value === 'string' && !codesOnly.has(value)) bad(`'${value}'`);
  } else if (typeCode === 'Coding') {
    if (value?.code && (value.system ? !allowed.has(`${value.system}|${value.code}`) : !codesOnly.has(value.code))) {
      bad(`'${value.system ?? ''}|${value.code}'`);
    }
  } else if (typeCode === 'CodeableConcept') {
    const codings = (value?.coding ?? []).filter((c) => c.code);
    // Required: at least one coding from the set when the concept is coded at all.
    if (codings.length && !codings.some((c) => allowed.has(`${c.system}|${c.code}`))) {
      bad(`'${codings.map((c) => `${c.system}|${c.code}`).join(', ')}'`);
    }
  }
}

function walkType(engine, typeName, value, path, issues, depth) {
  const sd = engine.sds.get(typeName);
  if (!sd || depth > 12) return;
  walkElements(engine, sd.snapshot.element, sd.type, value, path, issues, depth);
}

// The elements below `path` in a snapshot, found once per snapshot and path: filtering the whole
// snapshot again for every item of a repeating backbone element made a first load's validation
// quadratic in the number of items (a study's dates, parties, arms).
const CHILDREN = new WeakMap();
function childrenOf(elements, path) {
  let byPath = CHILDREN.get(elements);
  if (!byPath) CHILDREN.set(elements, (byPath = new Map()));
  let children = byPath.get(path);
  if (!children) byPath.set(path, (children = elements.filter((c) => c.path.startsWith(`${path}.`))));
  return children;
}

function walkElements(engine, elements, root, value, path, issues, depth) {
  for (const el of elements) {
    const rel = el.path.slice(root.length + 1);
    if (!rel || rel.includes('.')) continue; // direct children only; nested ones by recursion
    const types = el.type ?? [];
    const choice = rel.endsWith('[x]');
    const base = choice ? rel.slice(0, -3) : rel;
    for (const t of types) {
      const key = choice ? base + t.code[0].toUpperCase() + t.code.slice(1) : base;
      const raw = value?.[key];
      if (raw === undefined) continue;
      const items = Array.isArray(raw) ? raw : [raw];
      items.forEach((item, i) => {
        const p = `${path}.${key}${Array.isArray(raw) ? `[${i}]` : ''}`;
        if (el.binding?.strength === 'required' && el.binding.valueSet && CODED.has(t.code)) {
          const allowed = expand(engine, el.binding.valueSet);
          if (allowed) checkCoded(engine, item, t.code, allowed, p, issues);
        }
        if (t.code === 'BackboneElement' || t.code === 'Element') {
          walkElements(engine, childrenOf(elements, el.path), el.path, item, p, issues, depth + 1);
        } else if (el.contentReference) {
          // handled below
        } else if (t.code === 'Resource' || (engine.sds.get(t.code)?.kind === 'resource')) {
          if (item?.resourceType) walkType(engine, item.resourceType, item, `${p}`, issues, depth + 1);
        } else if (/^[A-Z]/.test(t.code) && t.code !== 'Extension') {
          walkType(engine, t.code, item, p, issues, depth + 1);
        }
      });
    }
    if (el.contentReference && value?.[base] !== undefined) {
      const target = el.contentReference.replace(/^.*#/, '');
      const children = childrenOf(elements, target);
      const raw = value[base];
      (Array.isArray(raw) ? raw : [raw]).forEach((item, i) => {
        walkElements(engine, children, target, item, `${path}.${base}[${i}]`, issues, depth + 1);
      });
    }
  }
}

// Issues of one resource: Medplum's structural/invariant check, then required bindings.
export function validate(engine, resource) {
  let issues;
  try {
    issues = validateResource(resource) ?? [];
  } catch (err) {
    issues = err?.outcome?.issue ?? [{ severity: 'error', code: 'invalid', details: { text: String(err?.message ?? err) } }];
  }
  issues = issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
  const terms = [];
  walkType(engine, resource.resourceType, resource, resource.resourceType, terms, 0);
  return [...issues, ...terms];
}
