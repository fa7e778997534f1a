"""Storage: tables, the database handle, migrations, settings, time-ordered ids."""
