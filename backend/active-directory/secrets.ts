/**
 * Attributes an item-restore product never shows, exports or writes: the PEK-encrypted secrets of
 * ntds.dit (password hashes and histories, Kerberos keys, trust and LSA secrets, the PEK list itself)
 * and attributes Windows marks confidential (searchFlags 0x80: BitLocker recovery keys, TPM owner
 * information…). Matched by ATTRTYP (base schema, the same on every DC) and by LDAP name.
 */
import type { AdAttribute } from './schema.ts'

export const SECRET_NAMES = new Set([
  'unicodepwd', 'dbcspwd', 'ntpwdhistory', 'lmpwdhistory', 'supplementalcredentials', 'currentvalue', 'priorvalue',
  'peklist', 'trustauthincoming', 'trustauthoutgoing', 'initialauthincoming', 'initialauthoutgoing',
  'userpassword', 'unixuserpassword', 'ms-ds-executescriptpassword', 'msds-executescriptpassword',
  'msds-managedpassword', 'msds-managedpasswordid', 'msds-managedpasswordpreviousid', 'msfve-recoverypassword',
  'msfve-keypackage', 'msfve-volumeguid', 'mstpm-ownerinformation', 'mstpm-tpminformationforcomputer',
  'msds-keycredentiallink', 'mslaps-password', 'mslaps-encryptedpassword', 'mslaps-encryptedpasswordhistory',
  'mslaps-encrypteddsrmpassword', 'mslaps-encrypteddsrmpasswordhistory', 'ms-mcs-admpwd',
])

/** ATTRTYPs of the PEK-encrypted attributes (columns ATTk…): refused even if the schema rows are damaged. */
export const SECRET_ATTRTYPS = new Set([
  589914, // unicodePwd
  589879, // dBCSPwd
  589918, // ntPwdHistory
  589984, // lmPwdHistory
  589949, // supplementalCredentials
  589851, // currentValue
  589924, // priorValue
  590689, // pekList
  589953, // trustAuthIncoming
  589959, // trustAuthOutgoing
  590363, // initialAuthIncoming
  590364, // initialAuthOutgoing
  35, // userPassword
  591734, // unixUserPassword
  591607, // msDS-ExecuteScriptPassword
  592020, // msDS-ManagedPassword
])

export const CONFIDENTIAL_FLAG = 0x80

export function isSecret(a: Pick<AdAttribute, 'name' | 'attrtyp' | 'searchFlags'>): boolean {
  return SECRET_ATTRTYPS.has(a.attrtyp) || SECRET_NAMES.has(a.name.toLowerCase()) || (a.searchFlags & CONFIDENTIAL_FLAG) !== 0
}

/** A datatable column that holds a secret whatever the schema says (by its ATTRTYP). */
export function isSecretColumn(column: string): boolean {
  const m = /^ATT[a-z](\d+)$/.exec(column)
  return !!m && SECRET_ATTRTYPS.has(Number(m[1]))
}
