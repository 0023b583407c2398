import type { Category, ReporterKind } from '../incidents/model.js';
import type { IntakeLimits } from './limits.js';

/**
 * One complaint as read from a report: one offender IP (the provider's
 * customer), never a reporter relay, honeypot, sinkhole, victim, C&C server
 * or an address quoted inside evidence.
 */
export interface ParsedComplaint {
  ip: string;
  category: Exclude<Category, 'child_abuse' | 'terrorism'> | 'child_abuse' | 'terrorism';
  /** When the abuse happened, UTC; undefined when the report does not say. */
  eventTime: Date | undefined;
  /**
   * Where eventTime comes from: 'report' when the report states when the
   * abuse happened (a field of its format, a time written in its text);
   * 'receipt' when it states none and the report's own Date (when it was
   * sent) stands in. parseReport sets it; a parser may leave it unset.
   */
  eventTimeSource?: 'report' | 'receipt' | undefined;
  /** Name and/or address of who reported. */
  reporter: string;
  reporterKind: ReporterKind;
  /** Which parser read it: arf, xarf-yaml, xarf-json, shadowserver-csv, acns, plain. */
  format: string;
  /** A short pointer to the evidence: a URL, a report id, a CSV row, a title. */
  evidence: string;
  /**
   * When the report also concerns other networks (a feed, a list of
   * addresses): the part about this complaint alone. Its customer is sent
   * this instead of the whole report, which names other customers and other
   * providers' addresses. The whole report is still stored.
   */
  excerpt?: string;
}

export interface ParseResult {
  complaints: ParsedComplaint[];
  /** Why an operator must look at it, when no complaint could be read with confidence. */
  needsInfo: string | null;
  /** The report's Message-ID (angle brackets removed), when it is a mail that has one. */
  messageId?: string | undefined;
  /** The Message-ID of the original message a report quotes (ARF's message/rfc822 part, a forward), when any. */
  originalMessageId?: string | undefined;  /** The report's Reply-To, else From, as one bare address (readReplyAddress); kept only for an authenticated sender. */
  replyTo?: string | undefined;
}

/** A part of a message (or a bare file) as the format parsers see it. */
export interface MessagePart {
  contentType: string;
  filename: string | undefined;
  content: Buffer;
}

/**
 * A message parsed once (RFC 822/MIME via mailparser), handed to every format
 * parser. A bare file (JSON, CSV, XML, text) becomes a message with no headers
 * and one part.
 */
export interface ParsedMessage {
  /** Lower-case header names; the first value of each. */
  headers: Map<string, string>;
  from: string | undefined;
  /** The Date: header, when present and valid. */
  date: Date | undefined;
  subject: string;
  /** The text body (text/plain, or text/html reduced to text). */
  text: string;
  /** Every part, including attachments and message/rfc822 and message/feedback-report parts. */
  parts: MessagePart[];
  raw: Buffer;
  /** The limits it was read under, which the format parsers apply too (unzipping, CSV rows); the defaults when absent. */
  limits?: IntakeLimits | undefined;
}

/**
 * One report format. `parse` returns undefined when the message is not in its
 * format. It throws nothing but an IntakeLimitError (a limit of
 * `message.limits` passed while reading, e.g. unzipping), which it must let
 * through its own error handling.
 */
export interface FormatParser {
  readonly name: string;
  parse(message: ParsedMessage): ParsedComplaint[] | undefined;
}
