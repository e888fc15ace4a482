"""The PRAHO back office (Flask-Admin), mounted at /admin by create_app."""
