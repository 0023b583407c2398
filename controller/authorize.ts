import { CordonError } from '../proto/runtime/CordonError.js';
import { roleAtLeast, type OperatorRole, type PeerIdentity } from '../proto/runtime/peerIdentity.js';
import type { RevocationList } from './agents/RevocationList.js';

/** The least role each operator method needs. Methods not listed are refused. */
const DESK_ROLES: Record<string, OperatorRole> = {
  'DeskService/ListHosts': 'viewer',
  'DeskService/ListAgents': 'viewer',
  'DeskService/GetHost': 'viewer',
  'DeskService/ListIncidents': 'viewer',
  'DeskService/GetIncident': 'viewer',
  'DeskService/ListApprovals': 'viewer',
  'DeskService/VerifyAudit': 'viewer',
  'DeskService/AddHost': 'technician',
  'DeskService/CheckBmc': 'technician',
  'DeskService/SubmitComplaint': 'abuse_operator',
  'DeskService/AnswerIncident': 'abuse_operator',
  'DeskService/DecideIncident': 'abuse_operator',
  'DeskService/Enforce': 'abuse_operator',
  'DeskService/Approve': 'abuse_operator',
  'DeskService/AdvanceClock': 'admin',
  'DeskService/ListReporters': 'viewer',
  'DeskService/ListComplaints': 'viewer',
  'DeskService/ListTerminationReviews': 'viewer',
  'DeskService/DecideComplaint': 'abuse_operator',
  'DeskService/RejectApproval': 'abuse_operator',
  'DeskService/DecideTerminationReview': 'abuse_operator',
  // A customer's notice address decides who hears of deadlines: not a technician's to change.
  'DeskService/SetCustomerContact': 'abuse_operator',
  'DeskService/AddReporter': 'admin',
  'DeskService/RemoveReporter': 'admin',
  // BMC credentials are bound to their host by an admin: a technician could otherwise aim a password at an address of their choosing.
  'DeskService/SetHostBmc': 'admin',
  // The customer's voice: anyone on the desk may see what waits and what customers said;
  // their evidence files, and acting on their links, are the abuse desk's.
  'DeskService/ListQueue': 'viewer',
  'DeskService/GetCustomerFile': 'abuse_operator',
  'DeskService/MarkMessagesSeen': 'abuse_operator',
  'DeskService/ResendLink': 'abuse_operator',
  'DeskService/RevokeLinks': 'abuse_operator',
  // Reading the clock changes nothing; a raw report carries third parties' mail and addresses, so it is the abuse desk's.
  'DeskService/GetClock': 'viewer',
  'DeskService/GetComplaintRaw': 'abuse_operator',
};

/**
 * Authorises a call: refuses revoked certificates, keeps agent and operator
 * certificates to their own services, checks operator roles, and lets a
 * feed certificate call SubmitComplaint only.
 */
export function createAuthorize(revoked: RevocationList) {
  const FEED_METHOD = 'DeskService/SubmitComplaint';
  return (peer: PeerIdentity, method: string): void => {
    const reason = revoked.check(peer.serial);
    if (reason) throw new CordonError('permission', reason);
    // A feed's certificate is a reporter's API credential: it submits complaints and does nothing else.
    if (peer.kind === 'feed') {
      if (method !== FEED_METHOD) throw new CordonError('permission', `${method} is not open to feed certificates (a feed may only call ${FEED_METHOD})`);
      return;
    }
    if (method.startsWith('AgentService/')) {
      if (peer.kind !== 'agent') throw new CordonError('permission', `${method} is for agent certificates only`);
      return;
    }
    if (peer.kind !== 'operator') throw new CordonError('permission', `${method} is for operator certificates only`);
    const needed = DESK_ROLES[method];
    if (!needed) throw new CordonError('permission', `${method} is not open to operators`);
    if (!roleAtLeast(peer.role, needed)) {
      throw new CordonError('permission', `${method} needs role ${needed} or above; ${peer.name} is ${peer.role}`);
    }
  };
}
