"""Erasing a person in this process takes effect here the moment the erasure commits, even when another
green thread (the relay publishing the person's earlier events, say) read the key while the erasing
transaction was still open — found by CI, where a cadre's name was still shown right after its erasure."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from psycopg_pool import ConnectionPool

from services.backbone.vault import ERASED, Vault


@pytest.fixture
def vault(db_url: str, schema: str) -> Iterator[Vault]:
    with ConnectionPool(db_url, min_size=1, max_size=3) as pool:
        yield Vault(pool, schema)


def test_a_key_read_while_the_erasure_is_open_is_not_kept_after_it_commits(vault: Vault) -> None:
    sealed = vault.seal("c-1", {"name": "张三"}, ("name",))
    assert vault.reveal(sealed) == {"name": "张三"}

    with vault.pool.connection() as conn, conn.transaction():
        assert vault.erase(conn, "c-1") is True
        # not committed yet: a concurrent reader still finds the key in the table, and may reveal with it
        assert vault.reveal(sealed) == {"name": "张三"}

    assert vault.reveal(sealed) == {"name": ERASED}


def test_an_erasure_rolled_back_leaves_the_person_readable(vault: Vault) -> None:
    sealed = vault.seal("c-2", {"name": "李四"}, ("name",))
    with pytest.raises(RuntimeError), vault.pool.connection() as conn, conn.transaction():
        vault.erase(conn, "c-2")
        raise RuntimeError("the erasing command failed")

    assert vault.reveal(sealed) == {"name": "李四"}
    with vault.pool.connection() as conn, conn.transaction():
        assert vault.erase(conn, "c-2") is True
        assert vault.erase(conn, "c-2") is False  # nothing left to destroy


def test_sealing_inside_a_command_reads_the_key_on_the_commands_own_connection(db_url: str, schema: str) -> None:
    """A command holds a pooled connection while it seals its events: a key not in this process's cache (another
    replica created it, or it expired) is read on that connection. It used to take a second one, which a pool
    whose connections every worker holds never hands out (a 503 after the pool's timeout)."""
    with ConnectionPool(db_url, min_size=1, max_size=1, timeout=2) as pool:
        Vault(pool, schema).ensure_key("cadre:c1")  # as another process would have
        fresh = Vault(pool, schema)  # nothing cached
        with pool.connection() as conn, conn.transaction():  # the command's, the pool's only one
            sealed = fresh.seal("cadre:c1", {"name": "王小明"}, ("name",), conn)
            reason = fresh.seal_text("cadre:c1", "群众基础好", conn)
        assert fresh.reveal(sealed)["name"] == "王小明" and fresh.reveal_text(reason) == "群众基础好"
