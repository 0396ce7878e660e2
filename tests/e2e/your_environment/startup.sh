#!/bin/bash
# As MWAA runs it: sourced before the requirements and before each component.
echo "startup for $MWAA_AIRFLOW_COMPONENT"
export MY_STARTUP_VAR="from-startup-$MWAA_AIRFLOW_COMPONENT"
export AIRFLOW_HOME=/somewhere/else  # reserved: MWAA restores it
