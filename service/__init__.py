"""What every domain shares: settings, database, auth, audit, storage, CLI and the pages shell.

Cases, parties and join links live here too, because rooms, agreements and confirmation all
hang off a case.
"""
