import { describeAction, describeCategory } from './describeAction.js';
import { consoleBlock, server, type Template } from './mailBlocks.js';
import { bullets, paragraph, utc } from './plainText.js';

/** The restrictions of an incident were lifted. */
export const released: Template = (input) => [
  `Restrictions lifted on server ${input.host.id}`,
  [
    paragraph(`We lifted the restrictions of incident ${input.incident.id} on your ${server(input)}.`),
    input.actions.length > 0 && `Lifted:\n${bullets(input.actions.map(describeAction))}`,
  ],
  [],
];

/**
 * An operator finished a release its agent never confirmed: the network
 * side is open, but Cordon cannot see what the server's own firewall still
 * holds, so the mail says so and how to clear it from the console.
 */
export const releasedAgentGone: Template = (input) => [
  `Restrictions lifted on our side for server ${input.host.id}: check the server`,
  [
    paragraph(
      `We lifted the restrictions of incident ${input.incident.id} on our side: your ${server(input)} is no longer restricted in our network. ` +
        `Its Cordon agent did not confirm the lift (it has not been in contact), so rules it applied on the server itself may still be in force there.`,
    ),
    input.actions.length > 0 && `Lifted on our side:\n${bullets(input.actions.map(describeAction))}`,
    paragraph(
      'If the server is still unreachable, connect to its console and either start the agent again (systemctl restart cordon-agent), ' +
        'which removes what the lifted restrictions left, or remove its rules yourself: nft delete table inet cordon, then bring the public interfaces up (ip link set <interface> up).',
    ),
    consoleBlock(input),
  ],
  [],
];

export const closed: Template = (input) => {
  const i = input.incident;
  return [
    `Incident closed for server ${input.host.id}`,
    [paragraph(`Incident ${i.id} (${describeCategory(i.category)}) about your ${server(input)} is closed${i.closedAt ? ` as of ${utc(i.closedAt)}` : ''}. Thank you.`)],
    [],
  ];
};

export const dismissed: Template = (input) => {
  const i = input.incident;
  return [
    `Complaint dismissed for server ${input.host.id}`,
    [
      paragraph(
        `We dismissed incident ${i.id} (${describeCategory(i.category)}) about your ${server(input)}. ` +
          `Nothing more is needed from you, and nothing from this incident remains in place on the server.`,
      ),
    ],
    [],
  ];
};

/** The migration notice, sent only when an operator confirmed a termination review. */
export const termination: Template = (input, tag) => {
  const i = input.incident;
  const until = new Date((input.review?.decidedAt ?? i.openedAt).getTime() + input.migrationDays * 86_400_000);
  return [
    `Notice of termination: ${input.migrationDays}-day migration period`,
    [
      paragraph(
        `After repeated abuse incidents on your servers that were established (acknowledged or fixed by you, or left unanswered ` +
          `until we had to act), our abuse desk reviewed your account and decided to terminate the contract. ` +
          `The incidents: ${(input.review?.incidentIds ?? [i.id]).join(', ')}.`,
      ),
      paragraph(
        `You have a ${input.migrationDays}-day migration period, until ${utc(until)}, to move your services and data. ` +
          `Your servers stay reachable during this period unless a new incident requires action on one of them.`,
      ),
      paragraph(`To contest this decision, reply to this mail keeping ${tag} in the subject, with your reasons.`),
    ],
    [],
  ];
};
