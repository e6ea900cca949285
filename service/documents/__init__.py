"""Documents the service issues (sealed agreements, later rulings): their records, the
committee's seal, the PDF workers and the public verification of a file."""
