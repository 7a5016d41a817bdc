"""A real OpenLDAP slapd for tests: mdb database in a temp dir, on a free loopback port.

Needs the Debian packages `slapd` and `ldap-utils`. slapd runs in the foreground (-d) as a
child of the test process and dies with it (PR_SET_PDEATHSIG), so nothing is left running.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
from pathlib import Path

from samtek.devserver.process import die_with_parent, free_port

SUFFIX = "dc=region,dc=test"
ADMIN_DN = f"cn=admin,{SUFFIX}"
ADMIN_PASSWORD = "ldap-test-secret"
SCHEMAS = ("core", "cosine", "inetorgperson", "nis")


def require_binaries() -> None:
    for binary, package in (
        ("slapd", "slapd"),
        ("ldapadd", "ldap-utils"),
        ("ldapmodify", "ldap-utils"),
    ):
        if shutil.which(binary) is None and not Path(f"/usr/sbin/{binary}").exists():
            raise RuntimeError(
                f"{binary} not found: apt-get install -y --no-install-recommends {package}"
            )


class SlapdServer:
    """`tls=(certificate, key, ca)`: StartTLS on `url` and an ldaps:// listener at `ldaps_url`."""

    def __init__(self, tls: tuple[Path, Path, Path] | None = None) -> None:
        require_binaries()
        self.dir = Path(tempfile.mkdtemp(prefix="samtek-slapd-"))
        self.port = free_port()
        self.url = f"ldap://127.0.0.1:{self.port}/"
        self.tls = tls
        self.ldaps_url: str | None = None
        if tls is not None:
            self.ldaps_port = free_port()
            self.ldaps_url = f"ldaps://127.0.0.1:{self.ldaps_port}/"
        self._process: asyncio.subprocess.Process | None = None

    def _write_config(self) -> Path:
        (self.dir / "db").mkdir()
        includes = "\n".join(f"include /etc/ldap/schema/{s}.schema" for s in SCHEMAS)
        if self.tls is not None:
            cert, key, ca = self.tls
            includes += (
                f"\nTLSCACertificateFile {ca}\nTLSCertificateFile {cert}"
                f"\nTLSCertificateKeyFile {key}"
            )
        config = self.dir / "slapd.conf"
        config.write_text(
            f"""{includes}
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {self.dir}/slapd.pid
database mdb
maxsize 104857600
suffix "{SUFFIX}"
rootdn "{ADMIN_DN}"
rootpw {ADMIN_PASSWORD}
directory {self.dir}/db
index objectClass eq
index modifyTimestamp eq
"""
        )
        return config

    async def start(self) -> None:
        config = self._write_config()
        slapd = shutil.which("slapd") or "/usr/sbin/slapd"
        log = (self.dir / "slapd.log").open("wb")
        urls = " ".join(u for u in (self.url, self.ldaps_url) if u)
        self._process = await asyncio.create_subprocess_exec(
            slapd, "-d", "0", "-h", urls, "-f", str(config),
            stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,  # only a prctl call: safe between fork and exec
        )  # fmt: skip
        log.close()
        for port in (self.port, self.ldaps_port) if self.tls else (self.port,):
            await self._wait_listening(port)

    async def _wait_listening(self, port: int) -> None:
        assert self._process is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while loop.time() < deadline:
            if self._process.returncode is not None:
                raise RuntimeError(f"slapd exited at start: {self.log_tail()}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            return
        raise RuntimeError(f"slapd did not listen on {port}: {self.log_tail()}")

    def log_tail(self) -> str:
        path = self.dir / "slapd.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else "(no log)"

    async def ldif(self, tool: str, text: str) -> None:
        """Apply LDIF with ldapadd/ldapmodify/ldapdelete as the admin."""
        process = await asyncio.create_subprocess_exec(
            tool, "-x", "-H", self.url, "-D", ADMIN_DN, "-w", ADMIN_PASSWORD,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await process.communicate(text.encode())
        if process.returncode != 0:
            raise RuntimeError(f"{tool} failed ({process.returncode}): {out.decode()}")

    async def add(self, text: str) -> None:
        await self.ldif("ldapadd", text)

    async def modify(self, text: str) -> None:
        await self.ldif("ldapmodify", text)

    async def stop(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), 10)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
        self._process = None

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
