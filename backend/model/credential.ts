// Guest OS credentials that jobs use for scripts and guest operations. The password is sealed at
// rest and only ever opened for the guest operations call.
//
// Every credential has an owner (the vCenter user who stored it) and a scope:
//   - 'private': only the owner sees it and may use it in a job;
//   - 'shared': every user sees it; a job may use it only where the user holds the guest operations
//     privileges on every VM of the job (README "Authorization").
// Only the owner, or a user holding Global.Settings in vCenter, may delete it.
export type CredentialScope = 'private' | 'shared';
export interface GuestCredential { id: string; name: string; username: string; owner: string; scope: CredentialScope }
export interface GuestCredentialInput { name: string; username: string; password: string; scope?: CredentialScope }

/** A vCenter user name in one form: "DOMAIN\user" and "user@domain" both become "user@domain", lower case. */
export function principalKey(user: string): string {
  const u = user.trim().toLowerCase();
  const i = u.indexOf('\\');
  return i >= 0 ? `${u.slice(i + 1)}@${u.slice(0, i)}` : u;
}

export function isCredentialOwner(c: Pick<GuestCredential, 'owner'>, user: string): boolean {
  return principalKey(c.owner) === principalKey(user);
}

/** Whether `user` sees the credential (and may pick it for a job, subject to the guest privileges). */
export function credentialVisibleTo(c: Pick<GuestCredential, 'owner' | 'scope'>, user: string): boolean {
  return c.scope === 'shared' || isCredentialOwner(c, user);
}
