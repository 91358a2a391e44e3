/** Exchange items read from a mailbox database (domain types; the API maps them to its DTOs). */
import type { EseConsistency } from '../ese/database.ts'

export interface ExchangeAddress { name: string; address: string }

/** Every answer carries the database's state: a dirty database (logs not replayed) is read as it stands. */
export interface ExchangeDatabaseState {
  state: EseConsistency['state']
  detail: string
  requiredLogs?: { min: number; max: number }
}

export interface ExchangeMailbox { number: number; guid: string; displayName: string; smtp?: string; messageCount: number }

export interface ExchangeFolder {
  id: string
  parentId?: string
  name: string
  /** Names from the top of the mailbox, joined by "/". */
  path: string
  containerClass?: string
  messageCount: number
  unreadCount: number
}

export interface ExchangeMessageSummary {
  mailbox: number
  documentId: number
  folderId: string
  folderPath: string
  subject: string
  from: ExchangeAddress
  to: ExchangeAddress[]
  cc: ExchangeAddress[]
  bcc: ExchangeAddress[]
  sent?: string
  received?: string
  hasAttachments: boolean
  read: boolean
  size: number
  /** Values that could not be decoded, with why (the rest of the message is still given). */
  problems: string[]
}

export interface ExchangeAttachment { id: number; filename: string; contentType: string; size: number; contentId?: string; content: Buffer }

export interface ExchangeMessage extends ExchangeMessageSummary {
  messageId?: string
  text?: string
  html?: string
  attachments: ExchangeAttachment[]
}

export interface ExchangeSearch {
  /** Substring of the sender's name or address (case-insensitive). */
  from?: string
  subject?: string
  /** Sent at or after / before (ISO dates). */
  after?: string
  before?: string
  /** Substring of an attachment's file name. */
  attachment?: string
  folderId?: string
  limit?: number
}

export interface ExchangeAnswer<T> { database: ExchangeDatabaseState; items: T }
