// Stands in for @grpc/grpc-js in cordonctl's bundle, for the generated files
// only (proto/gen/**). cordonctl uses their messages and method definitions
// through proto/runtime/UnaryChannel.ts; the grpc-js client classes they
// also define are never constructed there. Without this, the generated
// files' top-level `makeGenericClientConstructor(...)` would pull 0.8 MB of
// grpc-js and protobufjs into every command. If a bundled command ever
// constructs one, it fails loudly instead of silently sending nothing.
export class Client {
  constructor() {
    throw new Error('grpc-js is not part of the cordonctl bundle: use UnaryChannel');
  }
}

export function makeGenericClientConstructor() {
  return Client;
}
