"""What the desk processes share beyond tickets: who is alive (`desk_processes`), which agents have a console
open on which process (`desk_presence`), when each agent last made an API request (`desk_agent_seen`), and the
leases that let one process at a time do a job (`desk_leases`).

Liveness and leases are judged by the database's clock (`database_clock`), so desk processes on several machines
agree on them whatever their own clocks say. An agent's last request is stamped with the desk's time
(`bot.desk.records.now`, which `FRONTLINE_NOW` pins), as the wait estimates compare it with that time.

The tables are declared here, on the desk's one `metadata` (`bot.desk.store.tables`), next to the only code that
reads them; `Store.migrate()` creates them with the others.
"""

from __future__ import annotations

import logging
from typing import Dict, Iterable, Mapping, Optional, Set, Tuple

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bot.desk.store.database import Database
from bot.desk.store.tables import metadata

logger = logging.getLogger(__name__)

processes = sa.Table(
    "desk_processes",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # a random id per process start
    sa.Column("started_at", sa.Float, nullable=False),  # the database's clock
    sa.Column("heartbeat_at", sa.Float, nullable=False, index=True),  # the database's clock
)

presence = sa.Table(
    "desk_presence",
    metadata,
    sa.Column("process_id", sa.String(64), primary_key=True),
    sa.Column("agent", sa.String(128), primary_key=True),
    sa.Column("streams", sa.Integer, nullable=False),  # the agent's open console streams on that process
)

agent_seen = sa.Table(
    "desk_agent_seen",
    metadata,
    sa.Column("agent", sa.String(128), primary_key=True),
    sa.Column("at", sa.Float, nullable=False),  # the desk's time of the agent's latest API request
)

leases = sa.Table(
    "desk_leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(64), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),  # the database's clock
)


def database_clock(dialect: str) -> sa.sql.ColumnElement:
    """The database's own time in epoch seconds, as an SQL expression (PostgreSQL or SQLite)."""
    if dialect == "sqlite":
        return (sa.func.julianday("now") - 2440587.5) * 86400.0
    return sa.cast(sa.extract("epoch", sa.func.clock_timestamp()), sa.Float)


class ProcessRows(Database):
    """Reads and writes of `desk_processes`, `desk_presence`, `desk_agent_seen` and `desk_leases`."""

    @property
    def clock(self) -> sa.sql.ColumnElement:
        """The database's time (epoch seconds) as an SQL expression."""
        return database_clock(self.dialect)

    def database_time(self) -> float:
        """The database's time now, in epoch seconds."""
        with self.engine.connect() as conn:
            return float(conn.execute(sa.select(self.clock)).scalar())

    def heartbeat(self, process_id: str, streams: Mapping[str, int]) -> None:
        """Mark a desk process alive now and store its open console streams per agent (replacing the old)."""
        with self.engine.begin() as conn:
            if not conn.execute(
                processes.update().where(processes.c.id == process_id).values(heartbeat_at=self.clock)
            ).rowcount:
                conn.execute(processes.insert().values(id=process_id, started_at=self.clock, heartbeat_at=self.clock))
            conn.execute(presence.delete().where(presence.c.process_id == process_id))
            rows = [{"process_id": process_id, "agent": a, "streams": n} for a, n in streams.items() if n > 0]
            if rows:
                conn.execute(presence.insert(), rows)

    def set_streams(self, process_id: str, agent: str, streams: int) -> None:
        """Store how many console streams an agent has open on a process (0 removes the row)."""
        where = sa.and_(presence.c.process_id == process_id, presence.c.agent == agent)
        with self.engine.begin() as conn:
            if streams <= 0:
                conn.execute(presence.delete().where(where))
                return
            if conn.execute(presence.update().where(where).values(streams=streams)).rowcount:
                return
            conn.execute(presence.insert().values(process_id=process_id, agent=agent, streams=streams))

    def forget_process(self, process_id: str) -> None:
        """Remove a process and its presence (a clean stop)."""
        with self.engine.begin() as conn:
            conn.execute(presence.delete().where(presence.c.process_id == process_id))
            conn.execute(processes.delete().where(processes.c.id == process_id))

    def forget_dead_processes(self, silent_for: float) -> int:
        """Remove processes whose last heartbeat is older than `silent_for` seconds, and orphaned presence rows.

        Returns:
            How many processes were removed.
        """
        with self.engine.begin() as conn:
            removed = conn.execute(
                processes.delete().where(processes.c.heartbeat_at < self.clock - silent_for)
            ).rowcount
            conn.execute(presence.delete().where(presence.c.process_id.not_in(sa.select(processes.c.id))))
        return int(removed or 0)

    def live_processes(self, alive_for: float) -> Set[str]:
        """The ids of the processes with a heartbeat in the last `alive_for` seconds."""
        query = sa.select(processes.c.id).where(processes.c.heartbeat_at >= self.clock - alive_for)
        with self.engine.connect() as conn:
            return {row[0] for row in conn.execute(query)}

    def set_agent_seen(self, agent: str, at: float) -> None:
        """Record an agent's API request at desk time `at` (an earlier time never overwrites a later one)."""
        with self.engine.begin() as conn:
            if conn.execute(
                agent_seen.update().where(agent_seen.c.agent == agent).where(agent_seen.c.at < at).values(at=at)
            ).rowcount:
                return
            exists = conn.execute(sa.select(agent_seen.c.agent).where(agent_seen.c.agent == agent)).first()
        if exists:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(agent_seen.insert().values(agent=agent, at=at))
        except IntegrityError:  # another process inserted it first: keep the later time
            with self.engine.begin() as conn:
                conn.execute(
                    agent_seen.update().where(agent_seen.c.agent == agent).where(agent_seen.c.at < at).values(at=at)
                )

    def forget_agents_seen(self, agents: Iterable[str]) -> None:
        """Forget the latest API request of `agents` (simulated agents, who worked in simulated time)."""
        names = list(agents)
        if names:
            with self.engine.begin() as conn:
                conn.execute(agent_seen.delete().where(agent_seen.c.agent.in_(names)))

    def shared_presence(self, exclude_process: Optional[str], alive_for: float) -> Tuple[Set[str], Dict[str, float]]:
        """What other desk processes know of the agents.

        Args:
            exclude_process: leave this process's streams out (it knows its own).
            alive_for: count the streams of processes with a heartbeat in the last `alive_for` seconds only.

        Returns:
            (the agents with a console open on a live process, each agent's latest API request in desk time).
        """
        streams = (
            sa.select(presence.c.agent)
            .select_from(presence.join(processes, presence.c.process_id == processes.c.id))
            .where(presence.c.streams > 0, processes.c.heartbeat_at >= self.clock - alive_for)
        )
        if exclude_process is not None:
            streams = streams.where(presence.c.process_id != exclude_process)
        with self.engine.connect() as conn:
            online = {row[0] for row in conn.execute(streams.distinct())}
            seen = {row[0]: float(row[1]) for row in conn.execute(sa.select(agent_seen.c.agent, agent_seen.c.at))}
        return online, seen

    def hold_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew the lease `name` for `seconds`: one conditional UPDATE (or the first INSERT).

        Returns:
            True when `holder` holds the lease now (it was free, expired, or already its own).
        """
        with self.engine.begin() as conn:
            taken = conn.execute(
                leases.update()
                .where(leases.c.name == name)
                .where(sa.or_(leases.c.holder == holder, leases.c.expires_at < self.clock))
                .values(holder=holder, expires_at=self.clock + seconds)
            ).rowcount
        if taken:
            return True
        try:
            with self.engine.begin() as conn:
                conn.execute(leases.insert().values(name=name, holder=holder, expires_at=self.clock + seconds))
        except IntegrityError:  # the lease exists and someone else holds it
            return False
        return True

    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up (a clean stop), if `holder` holds it: another process may take it at once."""
        with self.engine.begin() as conn:
            conn.execute(leases.delete().where(leases.c.name == name, leases.c.holder == holder))

    def lease_holder(self, name: str) -> Optional[str]:
        """The holder of an unexpired lease, or None."""
        query = sa.select(leases.c.holder).where(leases.c.name == name, leases.c.expires_at >= self.clock)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()
