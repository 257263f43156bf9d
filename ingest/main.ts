// Entry point for `npm run ingest`. Not built yet: see the open issue for ingest/.
process.stderr.write('ingest: not implemented yet\n');
process.exit(2);
