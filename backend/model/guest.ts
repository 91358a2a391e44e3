// The guest operating system family, which decides how a VM is quiesced and how scripts run in it.
export type GuestFamily = 'windows' | 'linux' | 'other';

/** From vSphere's guestId (e.g. "windows2019srv_64Guest", "debian10_64Guest"). */
export function guestFamily(guestId: string | undefined): GuestFamily {
  if (!guestId) return 'other';
  if (/^win/i.test(guestId)) return 'windows';
  if (/linux|ubuntu|debian|rhel|centos|sles|suse|oracle|fedora|photon|coreos|rocky|alma|amazonlinux|asianux|mandr|opensuse|redhat|turbo/i.test(guestId)) return 'linux';
  return 'other';
}
