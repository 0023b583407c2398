/**
 * Small simulations of the IOS and Junos CLIs, as they answer over SSH,
 * written from the vendors' command references: enough modes, prompts,
 * refusals and output formats to drive the real SshSwitchDriver against. Each
 * port maps to its admin state (`true` = up).
 */
export interface CliModel {
  /** What the session prints before the first prompt. */
  banner(): string;
  /** The prompt shown after each answer; '' when the CLI waits on a question instead. */
  prompt(): string;
  /** Handles one typed line (effects included) and returns the answer printed before the prompt. */
  line(text: string): string;
}

/**
 * The switch itself, shared by all its sessions (each session has its own
 * CLI mode, as each vty / login on a real switch does).
 */
export interface SwitchState {
  /** Admin state per port (running / committed configuration). */
  ports: Map<string, boolean>;
  /** Junos: ports that exist in hardware (default: the initial keys of `ports`). */
  physical?: Set<string>;
  /** Junos: another user left uncommitted changes in the shared candidate, so `configure private` refuses. */
  sharedDirty?: boolean;
  /** Junos: commits fail their configuration check. */
  failCommit?: boolean;
}

/** A switch state with the given ports. */
export function switchState(ports: Record<string, boolean>): SwitchState {
  return { ports: new Map(Object.entries(ports)), physical: new Set(Object.keys(ports)) };
}

/** `^` under the offending word, as both CLIs print it. */
const caret = (typed: string, word: string, prefixLen: number) => `${' '.repeat(prefixLen + Math.max(0, typed.indexOf(word)))}^\r\n`;

/** `GigabitEthernet1/0/5` → `Gi1/0/5`, as IOS prints names in status tables. */
export const iosShortName = (name: string) => name.slice(0, 2) + name.slice(name.search(/\d/));

export class IosModel implements CliModel {
  private mode: 'exec' | 'config' | 'if' = 'exec';
  private current = '';

  constructor(
    private readonly sw: SwitchState,
    private readonly hostname = 'sw-ios-1',
  ) {}

  private get ports(): Map<string, boolean> {
    return this.sw.ports;
  }

  banner(): string {
    return '\r\n';
  }

  prompt(): string {
    return this.hostname + { exec: '#', config: '(config)#', if: '(config-if)#' }[this.mode];
  }

  private find(name: string): string | undefined {
    return [...this.ports.keys()].find((p) => p.toLowerCase() === name.toLowerCase() || iosShortName(p).toLowerCase() === name.toLowerCase());
  }

  line(text: string): string {
    const t = text.trim();
    const invalid = (word: string) => `${caret(t, word, this.prompt().length)}% Invalid input detected at '^' marker.\r\n\r\n`;
    let m: RegExpExecArray | null;
    if (this.mode === 'exec') {
      if (t === 'terminal length 0') return '';
      if (t === 'configure terminal') {
        this.mode = 'config';
        return 'Enter configuration commands, one per line.  End with CNTL/Z.\r\n';
      }
      if (t === 'conf') return '% Ambiguous command:  "conf"\r\n';
      if ((m = /^show interfaces (\S+) status$/.exec(t))) {
        const port = this.find(m[1]!);
        if (port === undefined) return invalid(m[1]!);
        const up = this.ports.get(port)!;
        const row = iosShortName(port).padEnd(10) + 'web-01 public'.padEnd(19) + (up ? 'connected' : 'disabled').padEnd(13) + '10'.padEnd(11) + 'a-full'.padEnd(8) + 'a-1000'.padEnd(6) + ' 10/100/1000BaseTX';
        return `\r\nPort      Name               Status       Vlan       Duplex  Speed Type\r\n${row}\r\n\r\n`;
      }
      return invalid(t.split(' ')[0]!);
    }
    if (t === 'end') {
      this.mode = 'exec';
      return '';
    }
    if (this.mode === 'config') {
      if ((m = /^interface (\S+)$/.exec(t))) {
        const port = this.find(m[1]!);
        if (port === undefined) return invalid(m[1]!);
        [this.mode, this.current] = ['if', port];
        return '';
      }
      if (t === 'interface') return '% Incomplete command.\r\n\r\n';
      return invalid(t.split(' ')[0]!);
    }
    if (t === 'shutdown' || t === 'no shutdown') {
      this.ports.set(this.current, t === 'no shutdown');
      return '';
    }
    if (t === 'exit') {
      this.mode = 'config';
      return '';
    }
    return invalid(t.split(' ')[0]!);
  }
}

export class JunosModel implements CliModel {
  private mode: 'op' | 'conf' = 'op';
  private candidate = new Map<string, boolean>();
  private askingExit = false;

  constructor(
    private readonly sw: SwitchState,
    private readonly hostname = 'sw-junos-1',
  ) {}

  private get ports(): Map<string, boolean> {
    return this.sw.ports;
  }

  banner(): string {
    return '--- JUNOS 21.4R3-S5.4 Kernel 64-bit  JNPR-12.1-20230321.be2d3ac_buil\r\n';
  }

  prompt(): string {
    if (this.askingExit) return '';
    return this.mode === 'op' ? `cordon@${this.hostname}> ` : `\r\n[edit]\r\ncordon@${this.hostname}# `;
  }

  private dirty(): boolean {
    return [...this.candidate].some(([p, up]) => this.ports.get(p) !== up);
  }

  line(text: string): string {
    const t = text.trim();
    let m: RegExpExecArray | null;
    if (this.mode === 'op') {
      if ((m = /^set cli (screen-length|screen-width|complete-on-space) (\S+)$/.exec(t))) {
        return { 'screen-length': `Screen length set to ${m[2]}\r\n`, 'screen-width': `Screen width set to ${m[2]}\r\n`, 'complete-on-space': `Disabling complete-on-space\r\n` }[m[1]!]!;
      }
      if (t === 'configure private') {
        if (this.sw.sharedDirty) {
          return 'error: shared configuration database modified\r\nUsers currently editing the configuration:\r\n  olga terminal pts/1 (pid 4242) on since 2026-11-02 10:00:00 UTC\r\n      [edit]\r\n';
        }
        [this.mode, this.candidate] = ['conf', new Map(this.ports)];
        return 'warning: uncommitted changes will be discarded on exit\r\nEntering configuration mode\r\n';
      }
      if ((m = /^show interfaces (\S+) terse$/.exec(t))) {
        const up = this.sw.physical?.has(m[1]!) === false ? undefined : this.ports.get(m[1]!);
        if (up === undefined) return `error: device ${m[1]} not found\r\n\r\n`;
        const s = up ? 'up  ' : 'down';
        return `Interface               Admin Link Proto    Local                 Remote\r\n${m[1]!.padEnd(24)}${s}  ${s}\r\n${`${m[1]}.0`.padEnd(24)}${s}  ${s} eth-switch\r\n\r\n`;
      }
      return `${caret(t, t.split(' ')[0]!, this.prompt().length)}unknown command.\r\n\r\n`;
    }
    if (this.askingExit) return '';
    if ((m = /^(set|delete) interfaces (\S+) disable$/.exec(t))) {
      const disabled = this.candidate.get(m[2]!) === false;
      if (m[1] === 'delete' && !disabled) return 'warning: statement not found\r\n';
      this.candidate.set(m[2]!, m[1] === 'delete');
      return '';
    }
    if (t === 'commit') {
      if (this.sw.failCommit) return "[edit interfaces]\r\n  'ge-0/0/5'\r\n    Interface in use by the DHCP snooping configuration\r\nerror: configuration check-out failed\r\n";
      for (const [p, up] of this.candidate) this.ports.set(p, up);
      return 'commit complete\r\n';
    }
    if (t === 'rollback 0') {
      this.candidate = new Map(this.ports);
      return 'load complete\r\n';
    }
    if (t === 'exit') {
      if (this.dirty()) {
        this.askingExit = true;
        return 'The configuration has been changed but not committed\r\nExit with uncommitted changes? [yes,no] (yes) ';
      }
      this.mode = 'op';
      return '\r\nExiting configuration mode\r\n\r\n';
    }
    return `${caret(t, t.split(' ').pop()!, this.prompt().length)}syntax error.\r\n`;
  }
}
