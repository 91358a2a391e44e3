// Exchange mail items from a restore point of a mail server (issue 13): the mailbox database (.edb)
// the point's VSS manifest names (Microsoft Exchange Writer), read from the backup with no copy of the
// volume and parsed in an isolated worker; mailboxes, folder tree, messages, search; export as EML,
// MSG or a zip of EML; restore into a mailbox folder over IMAP or send to a mailbox over SMTP as runs.
//
//   GET  /api/restore-points/:id/exchange                                   ExchangeDatabaseInfo
//   GET  /api/restore-points/:id/exchange/mailboxes/:mb/folders             ExchangeAnswerDto<ExchangeFolderDto[]>
//   GET  /api/restore-points/:id/exchange/mailboxes/:mb/messages?…          ExchangeAnswerDto<ExchangeMessageSummaryDto[]>
//   GET  /api/restore-points/:id/exchange/mailboxes/:mb/messages/:doc       ExchangeAnswerDto<ExchangeMessageDto>
//   GET  /api/restore-points/:id/exchange/mailboxes/:mb/messages/:doc/export?format=eml|msg   the file
//   GET  /api/restore-points/:id/exchange/mailboxes/:mb/folders/:folder/export                a zip of EML
//   POST /api/restore-points/:id/exchange/restore    ExchangeRestoreRequest -> JobRun (202, kind 'exchange-restore')
//   POST /api/restore-points/:id/exchange/send       ExchangeSendRequest -> JobRun (202, kind 'exchange-send')
//   GET  /api/exchange-deliveries/:runId             ExchangeDeliveryReport
//
// Needs: the VM visible and VirtualMachine.Provisioning.GetVmFiles on it (reading its backup). The
// mail server decides what the account given may write: its refusal comes back as the run's error.

/** 'dirty': a VSS copy whose logs were not replayed; read as it stands (recent changes may be missing). */
export interface ExchangeDatabaseStateDto { state: 'clean' | 'dirty'; detail: string; requiredLogs?: { min: number; max: number } }

export interface ExchangeAnswerDto<T> { database: ExchangeDatabaseStateDto; items: T }

export interface ExchangeAddressDto { name: string; address: string }
export interface ExchangeMailboxDto { number: number; guid: string; displayName: string; smtp?: string; messageCount: number }
export interface ExchangeFolderDto { id: string; parentId?: string; name: string; path: string; containerClass?: string; messageCount: number; unreadCount: number }

export interface ExchangeMessageSummaryDto {
  mailbox: number; documentId: number; folderId: string; folderPath: string; subject: string;
  from: ExchangeAddressDto; to: ExchangeAddressDto[]; cc: ExchangeAddressDto[]; bcc: ExchangeAddressDto[];
  sent?: string; received?: string; hasAttachments: boolean; read: boolean; size: number; problems: string[];
}

export interface ExchangeAttachmentDto { id: number; filename: string; contentType: string; size: number; contentId?: string }

export interface ExchangeMessageDto extends ExchangeMessageSummaryDto {
  messageId?: string; text?: string; html?: string; attachments: ExchangeAttachmentDto[];
}

export interface ExchangeLogFileDto { name: string; size: number; mtime?: string }

export interface ExchangeDatabaseInfo {
  restorePointId: string;
  /** Guest path from the VSS manifest, the component's caption (the database's name), where it was found. */
  path: string; caption?: string; volumeId: string; sizeBytes: number;
  logDir?: string;
  /** Log files of the database found in the restore point (a dirty database needs database.requiredLogs). */
  logs: ExchangeLogFileDto[];
  database: ExchangeDatabaseStateDto;
  mailboxes: ExchangeMailboxDto[];
}

export interface ImapTargetDto {
  host: string; port: number; secure: boolean; user: string;
  /** Used by this run only: held in memory until the run starts, never stored or logged. */
  password: string;
  folder: string;
  /** PEM of the CA that signed the server's certificate, when the system does not trust it. */
  caPem?: string;
}

export interface SmtpTargetDto {
  host: string; port: number; secure: boolean; user?: string;
  /** Used by this run only: held in memory until the run starts, never stored or logged. */
  password?: string;
  envelopeFrom: string; to: string[];
  /** PEM of the CA that signed the server's certificate, when the system does not trust it. */
  caPem?: string;
}

export interface ExchangeRestoreRequest { mailbox: number; messages: number[]; imap: ImapTargetDto }
export interface ExchangeSendRequest { mailbox: number; messages: number[]; smtp: SmtpTargetDto }

export interface ExchangeDeliveryReport {
  runId: string; restorePointId: string; kind: 'exchange-restore' | 'exchange-send';
  status: 'running' | 'success' | 'failed';
  done: number; total: number;
  results: { documentId: number; subject: string; detail: string }[];
  error?: string;
}
