export { NtfsVolume, MFT_ROOT, formatRef, parseRef, decodeReparse, type NtfsEntry, type NtfsState } from './volume.ts'
export { lznt1Decompress } from './lznt1.ts'
