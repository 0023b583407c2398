import type { SwitchVendor } from './SwitchDriver.js';
import { iosProfile } from './iosProfile.js';
import { junosProfile } from './junosProfile.js';
import { linuxProfile } from './linuxProfile.js';
import type { VendorProfile } from './VendorProfile.js';

/** The one place a vendor name becomes a profile. */
export function profileFor(vendor: SwitchVendor): VendorProfile {
  switch (vendor) {
    case 'linux':
      return linuxProfile;
    case 'ios':
      return iosProfile;
    case 'junos':
      return junosProfile;
  }
}
