// Guest OS credentials that jobs use for scripts and guest operations. The password is sealed at
// rest and only ever opened for the guest operations call.
export interface GuestCredential { id: string; name: string; username: string }
export interface GuestCredentialInput { name: string; username: string; password: string }
