// Names of vSphere entities that also become datastore paths: a new VM's name is the folder
// `[datastore] <name>/` and the files `<name>.vmx`, `<name>.vmdk` in it (a VM folder's name is a
// vCenter inventory name with the same rules). One rule set, used by the API's schema (requests are
// refused with 400 naming the rule) and again where the paths are built (defence in depth).
//
// What vCenter allows: names of VMs and folders up to 80 characters; it escapes `/`, `\` and `%`
// (as %2f, %5c, %25: "fewer if the characters %, \ or / are used") instead of refusing them, so they
// would not name the datastore folder we create. `[` and `]` delimit the datastore in a datastore
// path (`[ds] dir/file`). Control characters are not valid in file names on every datastore type.
// We also refuse what would climb out of or alias the VM's folder (`.`, `..`, names of dots only)
// and names that start or end with white space (vCenter trims them in its own UI, files keep them).

/** vCenter's limit for VM and folder names. */
export const ENTITY_NAME_MAX = 80;

/** The characters refused anywhere in a name, as a human-readable list. */
export const ENTITY_NAME_FORBIDDEN = '/ \\ [ ] %';

// C0 and C1 control characters, DEL, and the Unicode line and paragraph separators.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/u;
const FORBIDDEN = /[/\\[\]%]/;

/** The rule the name breaks (a phrase that follows the name: "must not be empty"), or undefined when it is fine. */
export function entityNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (!name.isWellFormed()) return 'must be valid Unicode text (it contains a lone surrogate)';
  if (name.length > ENTITY_NAME_MAX) return `must have at most ${ENTITY_NAME_MAX} characters (vCenter's limit for VM and folder names)`;
  if (/^[.]+$/.test(name)) return "must not be '.', '..' or only dots: it names a folder on the datastore";
  if (CONTROL.test(name)) return 'must not contain control characters';
  if (FORBIDDEN.test(name)) return `must not contain ${ENTITY_NAME_FORBIDDEN}: they cannot be used in datastore paths`;
  if (/^\s|\s$/u.test(name)) return 'must not start or end with white space';
  return undefined;
}

export function isValidEntityName(name: string): boolean {
  return entityNameProblem(name) === undefined;
}

/** Thrown by assertEntityName (the model imports nothing: callers turn it into their own kind of error). */
export class InvalidEntityName extends Error {
  readonly rule: string;
  constructor(what: string, name: string, rule: string) {
    super(`${what} '${printable(name)}' ${rule}: choose another name.`);
    this.name = 'InvalidEntityName';
    this.rule = rule;
  }
}

/** Returns the name, or throws InvalidEntityName naming the rule it breaks. */
export function assertEntityName(name: string, what = 'VM name'): string {
  const problem = entityNameProblem(name);
  if (problem) throw new InvalidEntityName(what, name, problem);
  return name;
}

/** The name as it can be shown in a message: control characters escaped, cut to a readable length. */
function printable(name: string): string {
  const shown = name.length > ENTITY_NAME_MAX + 10 ? `${name.slice(0, ENTITY_NAME_MAX)}…` : name;
  return shown.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .replace(/[\ud800-\udfff]/gu, '\ufffd');
}
