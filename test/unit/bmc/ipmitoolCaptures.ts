/**
 * Real ipmitool output, captured with the driver's own flags
 * (`-I lanplus -C 3 -L USER -N 1 -R 1 -v`): Debian ipmitool 1.8.19-4+deb12u2
 * against OpenIPMI 2.0.33 ipmi_sim (127.0.0.1, a lan.conf like
 * test/helpers/ipmiSim.ts writes). `ms` is how long the run took.
 * noRoute: from a network namespace with only lo up. passwordFileMissing:
 * ipmitool then tries an empty password, hence the RAKP line after it.
 */
export interface Capture {
  code: number;
  ms: number;
  stdout: string;
  stderr: string;
}

export const captures = {
  mcInfoOk: {
    code: 0,
    ms: 39,
    stdout: "Device ID                 : 0\nDevice Revision           : 3\nFirmware Revision         : 9.08\nIPMI Version              : 2.0\nManufacturer ID           : 4753\nManufacturer Name         : MontaVista Software, Inc.\nProduct ID                : 3842 (0x0f02)\nProduct Name              : Unknown (0xF02)\nDevice Available          : yes\nProvides Device SDRs      : no\nAdditional Device Support :\n    Sensor Device\n    SDR Repository Device\n    SEL Device\n    FRU Inventory Device\n    IPMB Event Receiver\n    Chassis Device\nAux Firmware Rev Info     : \n    0x00\n    0x00\n    0x00\n    0x00\n",
    stderr: "Loading IANA PEN Registry...\nGet HPM.x Capabilities request failed, compcode = d4\nRunning Get VSO Capabilities my_addr 0x20, transit 0, target 0x20\nInvalid completion code received: Insufficient privilege level\nDiscovered IPMB address 0x0\n",
  },
  chassisStatusOk: {
    code: 0,
    ms: 35,
    stdout: "System Power         : off\nPower Overload       : false\nPower Interlock      : inactive\nMain Power Fault     : false\nPower Control Fault  : false\nPower Restore Policy : always-off\nLast Power Event     : \nChassis Intrusion    : inactive\nFront-Panel Lockout  : inactive\nDrive Fault          : false\nCooling/Fan Fault    : false\n",
    stderr: "Loading IANA PEN Registry...\nGet HPM.x Capabilities request failed, compcode = d4\nRunning Get VSO Capabilities my_addr 0x20, transit 0, target 0x20\nInvalid completion code received: Insufficient privilege level\nDiscovered IPMB address 0x0\n",
  },
  solInfoNoSol: {
    code: 1,
    ms: 35,
    stdout: "",
    stderr: "Loading IANA PEN Registry...\nGet HPM.x Capabilities request failed, compcode = d4\nRunning Get VSO Capabilities my_addr 0x20, transit 0, target 0x20\nInvalid completion code received: Insufficient privilege level\nDiscovered IPMB address 0x0\nError requesting SOL parameter 'Set In Progress (0)': Invalid command\n",
  },
  solInfoEnabled: {
    code: 0,
    ms: 39,
    stdout: "Set in progress                 : set-complete\nEnabled                         : true\nForce Encryption                : false\nForce Authentication            : false\nPrivilege Level                 : Unknown (0x00)\nCharacter Accumulate Level (ms) : 0\nCharacter Send Threshold        : 0\nRetry Count                     : 0\nRetry Interval (ms)             : 0\nVolatile Bit Rate (kbps)        : IPMI-Over-Serial-Setting\nNon-Volatile Bit Rate (kbps)    : IPMI-Over-Serial-Setting\nPayload Channel                 : 1 (0x01)\nPayload Port                    : 16232\n",
    stderr: "Loading IANA PEN Registry...\nGet HPM.x Capabilities request failed, compcode = d4\nRunning Get VSO Capabilities my_addr 0x20, transit 0, target 0x20\nInvalid completion code received: Insufficient privilege level\nDiscovered IPMB address 0x0\nInfo: SOL parameter 'Authentication (2)' not supported\nInfo: SOL parameter 'Character Interval (3)' not supported\nInfo: SOL parameter 'Retry (4)' not supported\nInfo: SOL parameter 'Payload Channel (7)' not supported - defaulting to 0x01\nInfo: SOL parameter 'Payload Port (8)' not supported - defaulting to 16232\n",
  },
  solInfoDisabled: {
    code: 0,
    ms: 37,
    stdout: "Set in progress                 : set-complete\nEnabled                         : false\nForce Encryption                : false\nForce Authentication            : false\nPrivilege Level                 : Unknown (0x00)\nCharacter Accumulate Level (ms) : 0\nCharacter Send Threshold        : 0\nRetry Count                     : 0\nRetry Interval (ms)             : 0\nVolatile Bit Rate (kbps)        : IPMI-Over-Serial-Setting\nNon-Volatile Bit Rate (kbps)    : IPMI-Over-Serial-Setting\nPayload Channel                 : 1 (0x01)\nPayload Port                    : 16232\n",
    stderr: "Loading IANA PEN Registry...\nGet HPM.x Capabilities request failed, compcode = d4\nRunning Get VSO Capabilities my_addr 0x20, transit 0, target 0x20\nInvalid completion code received: Insufficient privilege level\nDiscovered IPMB address 0x0\nInfo: SOL parameter 'Authentication (2)' not supported\nInfo: SOL parameter 'Character Interval (3)' not supported\nInfo: SOL parameter 'Retry (4)' not supported\nInfo: SOL parameter 'Payload Channel (7)' not supported - defaulting to 0x01\nInfo: SOL parameter 'Payload Port (8)' not supported - defaulting to 16232\n",
  },
  wrongPassword: {
    code: 1,
    ms: 33,
    stdout: "",
    stderr: "Loading IANA PEN Registry...\n> RAKP 2 HMAC is invalid\nError: Unable to establish IPMI v2 / RMCP+ session\n",
  },
  unknownUser: {
    code: 1,
    ms: 28,
    stdout: "",
    stderr: "Loading IANA PEN Registry...\nRAKP 2 message indicates an error : unauthorized name\nError: Unable to establish IPMI v2 / RMCP+ session\n",
  },
  cipherSuiteRefused: {
    code: 1,
    ms: 22,
    stdout: "",
    stderr: "Loading IANA PEN Registry...\nError in open session response message : invalid authentication algorithm\n\nError: Unable to establish IPMI v2 / RMCP+ session\n",
  },
  cipherSuiteUnknown: {
    code: 1,
    ms: 22,
    stdout: "",
    stderr: "Loading IANA PEN Registry...\nUnsupported cipher suite ID : 99\n\nError: Unable to establish IPMI v2 / RMCP+ session\n",
  },
  passwordFileMissing: {
    code: 1,
    ms: 22,
    stdout: "",
    stderr: "File /nonexistent/pw does not exist\nUnable to open password file /nonexistent/pw\nUnable to read password from file /nonexistent/pw\nPassword: Loading IANA PEN Registry...\n> RAKP 2 HMAC is invalid\nError: Unable to establish IPMI v2 / RMCP+ session\n",
  },
  simulatorPaused: {
    code: 1,
    ms: 2042,
    stdout: "",
    stderr: "Loading IANA PEN Registry...\nGet Auth Capabilities error\nError issuing Get Channel Authentication Capabilities request\nError: Unable to establish IPMI v2 / RMCP+ session\n",
  },
  simulatorStopped: {
    code: 1,
    ms: 2036,
    stdout: "",
    stderr: "Loading IANA PEN Registry...\nGet Auth Capabilities error\nError issuing Get Channel Authentication Capabilities request\nError: Unable to establish IPMI v2 / RMCP+ session\n",
  },
  nameNotFound: {
    code: 1,
    ms: 46,
    stdout: "",
    stderr: "Loading IANA PEN Registry...\nAddress lookup for bmc.invalid failed\nCould not open socket!\nError: Unable to establish IPMI v2 / RMCP+ session\n",
  },
  noRoute: {
    code: 1,
    ms: 23,
    stdout: "",
    stderr: "Loading IANA PEN Registry...\nCould not open socket!\nError: Unable to establish IPMI v2 / RMCP+ session\n",
  },
} satisfies Record<string, Capture>;
