"""Helpers under MLflow's names (``mlflow.utils.git_utils``)."""
