"""platform.deferred_write_check: a conditional deferred write's row check, inside its statement

Revision ID: 0013_deferred_write_check
Revises: 0012_operator_keys
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013_deferred_write_check"
down_revision: str | None = "0012_operator_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Raising fails the whole statement (every CTE of it), so a transaction that is only this statement
    # writes nothing; SQLSTATE EM409 and DETAIL '<cte>:<rows>' tell the caller which check refused.
    op.execute(
        """
        CREATE FUNCTION platform.deferred_write_check(written bigint, expected integer, write text)
        RETURNS bigint LANGUAGE plpgsql AS $$
        BEGIN
            IF written <> expected THEN
                RAISE EXCEPTION 'deferred write % wrote % rows, expected %', write, written, expected
                    USING ERRCODE = 'EM409', DETAIL = write || ':' || written;
            END IF;
            RETURN written;
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION platform.deferred_write_check(bigint, integer, text)")
