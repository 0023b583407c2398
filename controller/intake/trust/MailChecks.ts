/**
 * What mail authentication found in one message, as plain data: the part of
 * mailauth's result that trust is decided on (authenticateMail.ts extracts
 * it; decideTrust.ts reads it). Domains are lower-case.
 */
export interface MailChecks {
  /** How many From header fields the message has (exactly one is acceptable). */
  fromHeaders: number;
  /** The domain of every address in those From fields. */
  fromDomains: string[];
  /** The From domain's organisational domain, as mailauth's DMARC computed it (public suffix list). */
  fromOrgDomain?: string | undefined;
  /** Each DKIM-Signature, in header order (empty when the message is not signed). */
  dkim: DkimCheck[];
  spf: { result: string; domain?: string | undefined; detail?: string | undefined };
  /** Absent when DMARC could not be evaluated (no single From domain). */
  dmarc?: { result: string; domain?: string | undefined; policy?: string | undefined; detail?: string | undefined } | undefined;
  arc: ArcCheck;
}

export interface DkimCheck {
  /** d= */
  domain: string;
  /** s= */
  selector: string;
  /** pass, fail, neutral, temperror, permerror, policy, … as mailauth says. */
  result: string;
  /** mailauth's comment: "body hash did not verify", "bad signature", "no key", … */
  comment?: string | undefined;
  /** d= shares the From domain's organisational domain (relaxed alignment, mailauth's). */
  aligned: boolean;
  /** With l=: bytes of the body after the signed length, which the signature does not cover; 0 otherwise. */
  unsignedBytes: number;
}

export interface ArcCheck {
  /** none (no chain), pass (cv=pass: every seal and the latest message signature verify), fail. */
  result: string;
  detail?: string | undefined;
  /** The latest ARC-Seal's d= (the last forwarder). */
  sealer?: string | undefined;
  /** The latest hop's instance (i=). */
  instance?: number | undefined;
  /** What the latest hop's ARC-Authentication-Results recorded for DMARC, and for which From domain. */
  dmarc?: string | undefined;
  dmarcFrom?: string | undefined;
}
