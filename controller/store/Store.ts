import { ApprovalsRepo } from './ApprovalsRepo.js';
import { AuditLog } from './AuditLog.js';
import { BmcRepo } from './BmcRepo.js';
import { SwitchesRepo } from './SwitchesRepo.js';
import { ComplaintsRepo } from './ComplaintsRepo.js';
import { CustomersRepo } from './CustomersRepo.js';
import { CustomerLinksRepo } from './CustomerLinksRepo.js';
import { CustomerMessagesRepo } from './CustomerMessagesRepo.js';
import { Database } from './Database.js';
import { migrate } from './migrate.js';
import { PgDatabase, type PgDatabaseOptions } from './pg/PgDatabase.js';
import { PG_MIGRATIONS } from './pg/pgMigrations.js';
import type { SqlDatabase } from './SqlDatabase.js';
import { DesiredStateRepo } from './DesiredStateRepo.js';
import { EventsRepo } from './EventsRepo.js';
import { HostsRepo } from './HostsRepo.js';
import { IncidentsRepo } from './IncidentsRepo.js';
import { OutboxRepo } from './OutboxRepo.js';
import { ReportersRepo } from './ReportersRepo.js';
import { ReplicasRepo } from './ReplicasRepo.js';
import { TerminationReviewsRepo } from './TerminationReviewsRepo.js';

/**
 * The controller's store: one SqlDatabase (a SQLite file, the embedded
 * default, or PostgreSQL) and a repository per table group, all sharing it. To change several things atomically, call them
 * inside `store.db.transaction(async () => …)`: repositories' statements
 * issued there join that transaction.
 */
export class Store {
  readonly hosts: HostsRepo;
  readonly customers: CustomersRepo;
  readonly complaints: ComplaintsRepo;
  readonly incidents: IncidentsRepo;
  readonly events: EventsRepo;
  readonly desired: DesiredStateRepo;
  readonly approvals: ApprovalsRepo;
  readonly outbox: OutboxRepo;
  readonly audit: AuditLog;
  readonly bmcs: BmcRepo;
  readonly switches: SwitchesRepo;
  readonly reporters: ReportersRepo;
  readonly terminationReviews: TerminationReviewsRepo;
  readonly customerLinks: CustomerLinksRepo;
  readonly customerMessages: CustomerMessagesRepo;
  readonly replicas: ReplicasRepo;

  constructor(readonly db: SqlDatabase) {
    this.hosts = new HostsRepo(db);
    this.customers = new CustomersRepo(db);
    this.complaints = new ComplaintsRepo(db);
    this.incidents = new IncidentsRepo(db);
    this.events = new EventsRepo(db);
    this.desired = new DesiredStateRepo(db);
    this.approvals = new ApprovalsRepo(db);
    this.outbox = new OutboxRepo(db);
    this.audit = new AuditLog(db);
    this.bmcs = new BmcRepo(db);
    this.switches = new SwitchesRepo(db);
    this.reporters = new ReportersRepo(db);
    this.terminationReviews = new TerminationReviewsRepo(db);
    this.customerLinks = new CustomerLinksRepo(db);
    this.customerMessages = new CustomerMessagesRepo(db);
    this.replicas = new ReplicasRepo(db);
  }

  /** Opens (creating and migrating) the store file; see Database.open. */
  static async open(path: string): Promise<Store> {
    return new Store(await Database.open(path));
  }

  /**
   * Connects to PostgreSQL at `url` (postgres://…) and brings its schema up
   * to this build's, under the migrations' lock, so replicas starting
   * together migrate once; a database newer than this build refuses to start.
   */
  static async openUrl(url: string, options: PgDatabaseOptions = {}): Promise<Store> {
    const db = await PgDatabase.open(url, { writeLock: 'write_lock', ...options });
    try {
      await migrate(db, PG_MIGRATIONS);
    } catch (err) {
      await db.close();
      throw err;
    }
    return new Store(db);
  }

  /** An in-memory store, for unit tests of the code above it. */
  static async openMemory(): Promise<Store> {
    return new Store(await Database.openMemory());
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
