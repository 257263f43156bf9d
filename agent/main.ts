// Entry point for `npm run agent`. Not built yet: see the open issue for agent/.
process.stderr.write('agent: not implemented yet\n');
process.exit(2);
