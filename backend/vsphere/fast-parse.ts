// A fast vim25 response parser for the bulk PropertyCollector calls (RetrievePropertiesEx,
// ContinueRetrievePropertiesEx, WaitForUpdatesEx).
//
// Why: node-soap's xmlToObject (sax + per-element schema lookups) parses ~14 MB/s; a 2000-VM inventory is
// ~14 MB of XML, i.e. a second of parsing, twice govmomi's whole round trip. This parser scans the string
// with indexOf and is driven by the same node-soap WSDL type descriptions, so typing rules are the WSDL's:
// int/long/short/byte/float/double → number, boolean → boolean, dateTime → Date, maxOccurs>1 → array,
// xsi:type → the subclass's description. It produces exactly what node-soap + fromSoap() produce
// (MoRefs, `_type`, primitive `val`s, ArrayOfX unwrapped); test/vsphere/fast-parse.test.ts checks parity.
// Faults never come here: non-200 responses go through node-soap.
//
// Scope (SOAP responses from vCenter/ESXi): elements, attributes, text, the five XML entities and numeric
// character references, CDATA, comments and processing instructions are skipped. No DTDs.
import { mor } from './types.ts';

type Desc = Record<string, unknown>;
export type TypeLookup = (typeName: string) => Desc | undefined;

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decode(s: string): string {
  if (s.indexOf('&') < 0) return s;
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);/g, (m, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    return ENTITIES[e] ?? m;
  });
}

function localName(q: string): string {
  const i = q.indexOf(':');
  return i < 0 ? q : q.slice(i + 1);
}

function typed(typeName: string, text: string): unknown {
  switch (localName(typeName)) {
    case 'int': case 'integer': case 'long': case 'short': case 'byte': case 'float': case 'double': case 'decimal':
      return Number(text);
    case 'boolean': case 'bool':
      return text.toLowerCase() === 'true' || text === '1';
    case 'dateTime': case 'date':
      return new Date(text);
    default:
      return text;
  }
}

type Frame = {
  name: string;
  desc: Desc | string | undefined;
  xsiType: string | undefined;
  morType: string | undefined;
  nil: boolean;
  obj: Record<string, unknown> | undefined;
  /** names that are arrays in this object (by schema or by repetition) */
  text: string;
  hasChildren: boolean;
};

/**
 * Parses a SOAP response envelope and returns the `returnval` of the body's response element (what
 * `VimClient.call` returns), typed by `responseDesc` (the description of e.g. RetrievePropertiesExResponse).
 */
export function parseResponse(xml: string, responseDesc: Desc | undefined, lookup: TypeLookup): unknown {
  // Find the Body's first child element.
  const bodyAt = xml.search(/<(?:[\w-]+:)?Body[\s>]/);
  if (bodyAt < 0) throw new Error('no SOAP Body in the response');
  let pos = xml.indexOf('>', bodyAt) + 1;
  const stack: Frame[] = [];
  const root: Frame = { name: '#root', desc: responseDesc ? { '#response': responseDesc } : undefined, xsiType: undefined, morType: undefined, nil: false, obj: {}, text: '', hasChildren: false };
  stack.push(root);
  let responseName: string | undefined;
  const n = xml.length;
  while (pos < n) {
    const lt = xml.indexOf('<', pos);
    if (lt < 0) break;
    const top = stack[stack.length - 1]!;
    if (lt > pos && stack.length > 1) top.text += xml.slice(pos, lt);
    const c = xml.charCodeAt(lt + 1);
    if (c === 47 /* / */) {
      const gt = xml.indexOf('>', lt);
      pos = gt + 1;
      if (stack.length === 1) break; // </Body>
      close(stack);
      if (stack.length === 1) break; // the response element is complete
      continue;
    }
    if (c === 33 /* ! */) {
      if (xml.startsWith('<![CDATA[', lt)) {
        const end = xml.indexOf(']]>', lt);
        top.text += xml.slice(lt + 9, end);
        pos = end + 3;
      } else {
        const end = xml.indexOf('-->', lt);
        pos = end + 3;
      }
      continue;
    }
    if (c === 63 /* ? */) {
      pos = xml.indexOf('?>', lt) + 2;
      continue;
    }
    // Start tag.
    const gt = xml.indexOf('>', lt);
    let selfClosing = xml.charCodeAt(gt - 1) === 47;
    const tagEnd = selfClosing ? gt - 1 : gt;
    let i = lt + 1;
    while (i < tagEnd) {
      const ch = xml.charCodeAt(i);
      if (ch === 32 || ch === 9 || ch === 10 || ch === 13) break;
      i++;
    }
    const qname = xml.slice(lt + 1, i);
    const name = localName(qname);
    let xsiType: string | undefined;
    let morType: string | undefined;
    let nil = false;
    // Attributes.
    while (i < tagEnd) {
      const eq = xml.indexOf('=', i);
      if (eq < 0 || eq > tagEnd) break;
      const aname = xml.slice(i, eq).trim();
      const q = xml.charCodeAt(eq + 1);
      const vEnd = xml.indexOf(q === 39 ? "'" : '"', eq + 2);
      const value = xml.slice(eq + 2, vEnd);
      i = vEnd + 1;
      if (aname === 'type') morType = decode(value);
      else if (aname.endsWith(':type') && !aname.startsWith('xmlns')) xsiType = localName(value);
      else if (aname.endsWith(':nil') && (value === 'true' || value === '1')) nil = true;
    }
    top.hasChildren = true;
    let desc: Desc | string | undefined;
    if (stack.length === 1) {
      responseName = name;
      desc = responseDesc;
    } else {
      const pd = top.desc;
      if (pd && typeof pd === 'object') desc = (pd[name] ?? pd[`${name}[]`]) as Desc | string | undefined;
    }
    if (xsiType) {
      const d = lookup(xsiType);
      if (d) desc = d;
      else if (!xsiType.startsWith('ArrayOf') && xsiType !== 'ManagedObjectReference') desc = xsiType.includes(':') ? xsiType : `xsd:${xsiType}`;
    }
    stack.push({ name, desc, xsiType, morType, nil, obj: undefined, text: '', hasChildren: false });
    pos = gt + 1;
    if (selfClosing) {
      close(stack);
      if (stack.length === 1) break;
      selfClosing = false;
    }
  }
  const resp = root.obj![responseName ?? ''] as Record<string, unknown> | null | undefined;
  return resp && typeof resp === 'object' ? resp.returnval : undefined;
}

/** Finishes the top frame and attaches its value to the parent. */
function close(stack: Frame[]): void {
  const f = stack.pop()!;
  const parent = stack[stack.length - 1]!;
  let value: unknown;
  if (f.nil) {
    value = null;
  } else if (f.morType !== undefined && !f.hasChildren) {
    value = mor(f.morType, decode(f.text.trim()));
  } else if (f.xsiType && f.xsiType.startsWith('ArrayOf')) {
    const o = f.obj ?? {};
    const k = Object.keys(o)[0];
    value = k === undefined ? [] : Array.isArray(o[k]) ? o[k] : [o[k]];
  } else if (f.hasChildren) {
    value = f.obj ?? {};
  } else {
    const text = f.text.trim();
    const t = typeof f.desc === 'string' ? f.desc : undefined;
    if (text.length) {
      value = t ? typed(t, decode(text)) : decode(text);
    } else if (f.xsiType && !t) {
      value = { _type: f.xsiType };
    } else {
      value = t && localName(t) === 'string' ? '' : null;
    }
  }
  const p = (parent.obj ??= parent.xsiType && !parent.xsiType.startsWith('ArrayOf') ? { _type: parent.xsiType } : {});
  const pd = parent.desc;
  const isArray = pd && typeof pd === 'object' && `${f.name}[]` in pd;
  const cur = p[f.name];
  if (isArray) {
    if (cur === undefined) p[f.name] = [value];
    else (cur as unknown[]).push(value);
  } else if (cur !== undefined) {
    if (Array.isArray(cur) && (cur as { __rep?: true }).__rep) cur.push(value);
    else {
      const arr = [cur, value];
      Object.defineProperty(arr, '__rep', { value: true, enumerable: false });
      p[f.name] = arr;
    }
  } else {
    p[f.name] = value;
  }
}
