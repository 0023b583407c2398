import { CordonError } from '../../proto/runtime/CordonError.js';
import type { SwitchVendor } from './SwitchDriver.js';
import { iosProfile } from './iosProfile.js';
import { junosProfile } from './junosProfile.js';
import { linuxProfile } from './linuxProfile.js';
import type { VendorProfile } from './VendorProfile.js';

/** The one place a vendor name becomes a profile; an unknown name (unvalidated input) is `unsupported`. */
export function profileFor(vendor: SwitchVendor): VendorProfile {
  switch (vendor) {
    case 'linux':
      return linuxProfile;
    case 'ios':
      return iosProfile;
    case 'junos':
      return junosProfile;
  }
  throw new CordonError('unsupported', `no switch profile for vendor ${JSON.stringify(vendor)}`, { field: 'vendor' });
}
