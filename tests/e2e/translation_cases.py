"""The old spellings both live translation tests run, with real DAG/task ids of the sample
DAGs (tests/e2e/airflow2_dags has the same ids for Airflow 2)."""

DAY = "2025-01-02"  # each test triggers a run of hello_mwaa on this day first

# Airflow 1.10 spellings, translated for 2.x and 3.x alike
LIVE_110 = {
    "list_dags": "list_dags",
    "list_tasks": "list_tasks hello_mwaa",
    "list_dag_runs": "list_dag_runs hello_mwaa",
    "trigger_dag": "trigger_dag etl_with_params -c '{\"rows\": 2}'",
    "pause": "pause hello_mwaa",
    "unpause": "unpause hello_mwaa",
    "dag_state": f"dag_state hello_mwaa {DAY}",
    "task_state": f"task_state hello_mwaa say_hello {DAY}",
    "next_execution": "next_execution daily_report",
    "clear": "clear hello_mwaa -t say_hello",
    "test": f"test hello_mwaa say_hello {DAY}",
    "render": f"render hello_mwaa say_hello {DAY}",
    "task_failed_deps": f"task_failed_deps hello_mwaa say_hello {DAY}",
    "show_dag": "show_dag hello_mwaa",
    # a DAG has one backfill at a time: the 1.10 case is a dry run
    "backfill": "backfill daily_report -s 2025-01-01 -e 2025-01-02 --dry-run",
    "variables": "variables -s translated_key 42",
    "delete_dag": "delete_dag etl_with_params",
}
