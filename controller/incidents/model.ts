/**
 * The abuse desk's vocabulary. Plain data: the lifecycle (lifecycle.ts) and
 * the policy (policy.ts) are pure functions over these types.
 */

export const CATEGORIES = [
  'spam',
  'phishing',
  'malware',
  'botnet',
  'ddos',
  'scan',
  'brute_force',
  'copyright',
  'open_service',
  'auth_failure',
  'child_abuse',
  'terrorism',
  'other',
] as const;
export type Category = (typeof CATEGORIES)[number];

/** Who reported: trust decides whether a complaint may lead to automatic enforcement. */
export const REPORTER_KINDS = ['own_monitoring', 'upstream', 'cert', 'rights_holder', 'individual', 'anonymous'] as const;
export type ReporterKind = (typeof REPORTER_KINDS)[number];

export type ActionKind = 'smtp_block' | 'throttle' | 'isolate' | 'nic_down';

/** One enforcement action with its parameters. */
export type Action =
  | { kind: 'smtp_block'; ports?: number[] }
  | { kind: 'throttle'; rateBps: number }
  | { kind: 'isolate' }
  | { kind: 'nic_down' };

export const INCIDENT_STATES = [
  'received', // opened, the customer's notice not yet sent
  'notified', // notice sent; acknowledge and resolve deadlines run
  'acknowledged', // the customer acknowledged; the resolve deadline runs
  'customer_resolved', // the customer says fixed; an operator verifies
  'disputed', // the customer says false positive; an operator decides
  'plan_accepted', // the customer gave a plan; its due date runs
  'escalated', // a deadline passed unanswered: threatens the network
  'enforcing', // an action is decided and dispatched to the host
  'enforced', // the host reported the action in place
  'release_requested', // the customer confirmed the fix while enforced
  'appealed', // the customer contests an enforcement in force; it stays until an operator decides
  'releasing', // an operator released the host; its agent (or the switch) has not confirmed the lift yet
  'released', // the lift is confirmed (or an operator, the agent gone, finished it explicitly)
  'closed',
  'dismissed',
] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];

export const TERMINAL_STATES: readonly IncidentState[] = ['closed', 'dismissed'];
/** States in which a deadline runs and silence escalates. */
export const WAITING_STATES: readonly IncidentState[] = ['notified', 'acknowledged', 'plan_accepted'];
/** States in which the host carries (or is getting) this incident's enforcement. */
export const ENFORCING_STATES: readonly IncidentState[] = ['enforcing', 'enforced', 'release_requested', 'appealed'];
/** States in which a person must look now, restricted ones first (the customer asked to be heard). */
export const WAITING_FOR_OPERATOR: readonly IncidentState[] = ['appealed', 'release_requested', 'customer_resolved', 'disputed'];

/** Why an escalated incident is not enforcing yet. */
export type Hold = 'operator_decision' | 'untrusted_reporter' | 'approval' | 'rate_limit' | 'bmc_unreachable';

/** Actions that cut the public network: allowed only while the host's console (BMC) answers. */
export const CUT_ACTIONS: readonly Action['kind'][] = ['isolate', 'nic_down'];

/** The latest check of a host's BMC, as the controller stored it. */
export interface BmcFact {
  reachable: boolean;
  checkedAt: Date;
  error?: string | undefined;
}

export interface Incident {
  id: string;
  hostId: string;
  customerId: string;
  category: Category;
  state: IncidentState;
  /** At least one complaint came from a trusted reporter kind. */
  trusted: boolean;
  openedAt: Date;
  notifiedAt: Date | undefined;
  ackDueAt: Date | undefined;
  resolveDueAt: Date | undefined;
  acknowledgedAt: Date | undefined;
  /** The last customer answer that stops the clock (fixed, false positive, plan). */
  answeredAt: Date | undefined;
  escalatedAt: Date | undefined;
  /** Index into the category's ladder of the action in force or decided; -1 before the first. */
  step: number;
  /** The actions this incident holds on its host (what release removes). */
  actions: Action[];
  /** Set while escalated but held back; cleared when it acts. */
  hold: Hold | undefined;
  closedAt: Date | undefined;
  complaintCount: number;
  /** When the host's BMC was last seen answering by a check around a cut (for the customer's notice). */
  bmcVerifiedAt?: Date | undefined;
  /**
   * Counts toward the customer's termination review: enforced after an
   * unanswered deadline on a trusted complaint, or acknowledged or fixed by
   * the customer (and never dismissed). Set by the lifecycle.
   */
  established: boolean;
  /** A deadline passed with no qualifying answer. */
  overdue: boolean;
  /** Who opened it: a complaint, or an operator acting on a host without one. */
  openedBy: 'complaint' | 'operator';
  /** The approval a second operator granted for this incident's action, when one was needed. */
  approvalId?: string | undefined;
  /** An operator's cut that waits for the host's BMC to answer (hold bmc_unreachable), and its reason. */
  pendingAction?: Action | undefined;
  pendingReason?: string | undefined;
  /**
   * A notice of this incident bounced (RFC 3464): the customer was not told,
   * so its deadlines do not run until a notice is delivered again or the
   * customer answers. Set by the `notice_bounced` event.
   */
  noticeUndeliveredAt?: Date | undefined;
}

export const EVENT_TIME_SOURCES = ['report', 'receipt'] as const;
export type EventTimeSource = (typeof EVENT_TIME_SOURCES)[number];

export interface Complaint {
  id: string;
  receivedAt: Date;
  /** When the abuse happened, per the report (UTC). */
  eventTime: Date | undefined;
  /**
   * Where eventTime comes from: 'report' when the report states it, 'receipt'
   * when it states none and the report's own Date stands in (never to be
   * presented as the reporter's statement). Absent reads 'report'.
   */
  eventTimeSource?: EventTimeSource | undefined;
  ip: string;
  category: Category;
  reporter: string;
  reporterKind: ReporterKind;
  /** The report as received, byte for byte. */
  raw: string;
  evidence: string;
  /** The part of a many-network report about this complaint alone; what the customer is sent. */
  excerpt?: string | undefined;
  /** Authenticated as a registered reporter the policy trusts (see intake/trust). */
  trusted?: boolean | undefined;
  /** The registered reporter it was authenticated as. */
  reporterId?: string | undefined;
  /** How it was authenticated, check by check (intake/trust/Authentication), as stored JSON. */
  authentication?: unknown;
  /** The report's Message-ID, and the quoted original's (an ARF or forwarded report). */
  messageId?: string | undefined;
  originalMessageId?: string | undefined;
  /** A hash of reporter, address, category, event time and normalised evidence (see intake/fingerprint). */
  fingerprint?: string | undefined;
  /** Where the reporter asked for answers (the report's Reply-To or From), for the outcome mail. */
  replyTo?: string | undefined;
}
