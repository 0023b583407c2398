import { createHash } from 'node:crypto';

/** `SHA256:` and 43 base64 characters (32 bytes, padding dropped), as `ssh-keygen -lf` prints. */
export const FINGERPRINT_PATTERN = /^SHA256:[A-Za-z0-9+/]{43}$/;

/**
 * The OpenSSH SHA-256 fingerprint of a host key in its SSH wire encoding
 * (the blob ssh2 hands to `hostVerifier`, the base64 field of a `.pub` file).
 */
export function hostKeyFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}
