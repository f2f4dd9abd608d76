"""The Flask web app: one blueprint per audience and the integration API."""
