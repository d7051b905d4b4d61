"""What the statement guard refuses wherever it appears: statement types, functions, prefixes.

The allow-list of functions a query may call is ``honestsql.functions``; these are the names that
stay refused even when a user extends it, because they write, run SQL from a string, signal other
sessions or read the server's files.
"""

from __future__ import annotations

from sqlglot import exp

#: Statement types that must never appear anywhere in a checked query.
WRITE_NODES: tuple[type[exp.Expr], ...] = (
    exp.DML,
    exp.DDL,
    exp.Drop,
    exp.Alter,
    exp.Command,
    exp.Into,
    exp.Lock,
    exp.Set,
    exp.Pragma,
    exp.Attach,
    exp.Detach,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.Use,
    exp.LoadData,
    exp.Describe,
    exp.Show,
    exp.Grant,
    exp.Revoke,
    exp.Analyze,
    exp.Kill,
    exp.TruncateTable,
    exp.Cache,
    exp.Uncache,
    exp.Refresh,
    exp.Install,
    exp.Export,
    exp.Declare,
    exp.Execute,
    # Spark's SELECT TRANSFORM(...) USING 'script': runs a program on the cluster.
    exp.QueryTransform,
)


#: The second check, behind the allow-list (``honestsql.functions``): functions refused in any
#: dialect even if a user adds them to the allow-list. They read or write server files, run SQL
#: given as a string, sleep, take locks, change settings or sequences, or signal other sessions.
FORBIDDEN_FUNCTIONS: frozenset[str] = frozenset(
    {
        # PostgreSQL
        "pg_read_file",
        "pg_read_binary_file",
        "pg_ls_dir",
        "pg_stat_file",
        "pg_ls_logdir",
        "pg_ls_waldir",
        "pg_ls_tmpdir",
        "pg_ls_archive_statusdir",
        "pg_file_write",
        "pg_file_rename",
        "pg_file_unlink",
        "lo_import",
        "lo_export",
        "lo_unlink",
        "lo_create",
        "lo_creat",
        "lo_from_bytea",
        "lo_put",
        "lo_get",
        "dblink",
        "dblink_exec",
        "dblink_connect",
        "dblink_send_query",
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_switch_wal",
        "pg_create_restore_point",
        "pg_promote",
        "set_config",
        "nextval",
        "setval",
        "pg_sleep",
        "pg_sleep_for",
        "pg_sleep_until",
        "pg_notify",
        "pg_logical_emit_message",
        "txid_current",
        "pg_current_xact_id",
        "query_to_xml",
        "query_to_xml_and_xmlschema",
        "query_to_xmlschema",
        "cursor_to_xml",
        "cursor_to_xmlschema",
        "database_to_xml",
        "database_to_xml_and_xmlschema",
        "schema_to_xml",
        "table_to_xml",
        "table_to_xml_and_xmlschema",
        "table_to_xmlschema",
        "schema_to_xml_and_xmlschema",
        "schema_to_xmlschema",
        "ts_stat",
        "ts_rewrite",
        "pg_stat_reset",
        "pg_backup_start",
        "pg_backup_stop",
        "pg_log_backend_memory_contexts",
        "pg_stat_get_activity",
        "pg_show_all_settings",
        "pg_hba_file_rules",
        "current_setting",
        "pg_import_system_collations",
        # MySQL / MariaDB
        "load_file",
        "sleep",
        "benchmark",
        "get_lock",
        "release_lock",
        "release_all_locks",
        "master_pos_wait",
        "source_pos_wait",
        "master_gtid_wait",
        "sys_exec",
        "sys_eval",
        # SQLite
        "load_extension",
        "readfile",
        "writefile",
        "edit",
        "fts3_tokenizer",
        # DuckDB
        "read_csv",
        "read_csv_auto",
        "read_parquet",
        "parquet_scan",
        "read_json",
        "read_json_auto",
        "read_ndjson",
        "read_ndjson_auto",
        "read_json_objects",
        "read_text",
        "read_blob",
        "glob",
        "sniff_csv",
        "read_xlsx",
        "st_read",
        "query",
        "query_table",
        "duckdb_secrets",
        "parquet_metadata",
        "parquet_schema",
        # Spark SQL: Java reflection, file and URL reads, XML parsers that may resolve external
        # entities, secrets, and failures raised on purpose.
        "reflect",
        "java_method",
        "try_reflect",
        "read_files",
        "input_file_name",
        "input_file_block_start",
        "input_file_block_length",
        "secret",
        "try_secret",
        "xpath",
        "from_xml",
        "schema_of_xml",
        "raise_error",
        "assert_true",
        "identifier",
    }
)


FORBIDDEN_PREFIXES = (
    "pg_advisory",
    "pg_try_advisory",
    "lo_",
    "dblink",
    "pg_create_",
    "pg_drop_",
    "pg_replication_",
    "pg_logical_",
    "pg_stat_reset",
    "xpath_",
)


def is_forbidden(name: str) -> bool:
    return name in FORBIDDEN_FUNCTIONS or name.startswith(FORBIDDEN_PREFIXES)


#: Spark SQL reads a file when a table is named ``format.`path```: ``parquet.`/data/x```,
#: ``text.`/etc/passwd```. These are the formats (data sources) Spark and its usual plugins read.
SPARK_FILE_SOURCES: frozenset[str] = frozenset(
    [
        "parquet",
        "orc",
        "csv",
        "json",
        "text",
        "binaryfile",
        "avro",
        "delta",
        "iceberg",
        "hudi",
        "jdbc",
        "libsvm",
        "image",
        "xml",
        "hive",
        "kafka",
        "noop",
        "console",
        "rate",
    ]
)


def spark_refusal(node: exp.Expr) -> tuple[str, str] | None:
    """Why a node of a Spark SQL query is refused (message and subject), or ``None``.

    Spark runs a query on a file named in place of a table, and substitutes ``${name}`` with a
    configuration value anywhere in the text, string literals included; neither may pass (the
    session turns both off as well: ``honestsql.db.spark``).
    """
    if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
        source = node.args.get("db")
        name = node.name
        if (source is not None and source.name.lower() in SPARK_FILE_SOURCES) or any(
            c in name for c in "/:\\"
        ):
            return (
                f"The query reads a file by its path ({node.sql('spark')}); only the tables "
                "and views of the database may be read.",
                node.sql("spark"),
            )
    if isinstance(node, exp.Literal) and node.is_string and "${" in node.name:
        return (
            "The query contains '${', which Spark replaces with a configuration value; "
            "it may not run.",
            "${",
        )
    return None
