/**
 * Configuration of an OpenIPMI `ipmi_sim` BMC: one management controller
 * (IPMB 0x20) answering Get Device ID, one LAN channel with an admin user,
 * MD5 auth for IPMI 1.5 and lanplus (cipher suite 3) for 2.0. Shared by the
 * lab and the tests' simulator helper.
 */
export const IPMI_SIM_EMU = ['mc_setbmc 0x20', 'mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02', 'mc_enable 0x20', ''].join('\n');

export interface IpmiLanOptions {
  name: string;
  address: string;
  port: number;
  user: string;
  /** At most 20 bytes (IPMI 2.0); keep it free of quotes. */
  password: string;
  /** host:port of a TCP listener standing in for the serial console, for `sol info`. */
  solTcp?: string | undefined;
}

export function ipmiSimLanConf(o: IpmiLanOptions): string {
  if (!/^[\w.-]{1,20}$/.test(o.password)) throw new RangeError('the BMC password must be 1 to 20 characters of [A-Za-z0-9_.-]');
  return [
    `name "${o.name}"`,
    'set_working_mc 0x20',
    'startlan 1',
    `  addr ${o.address} ${o.port}`,
    '  priv_limit admin',
    '  allowed_auths_callback md5',
    '  allowed_auths_user md5',
    '  allowed_auths_operator md5',
    '  allowed_auths_admin md5',
    '  guid a123456789abcdefa123456789abcdef',
    'endlan',
    `user 2 true "${o.user}" "${o.password}" admin 10 md5`,
    ...(o.solTcp ? [`sol "tcp:${o.solTcp}" 115200`] : []),
    '',
  ].join('\n');
}
