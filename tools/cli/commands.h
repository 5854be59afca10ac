/* commands.h — one entry point per subcommand, each in its own cmd_*.c.
 * argv[0] is the subcommand name. Return the process exit status. */
#ifndef SL_CLI_COMMANDS_H
#define SL_CLI_COMMANDS_H

/* Weak so the dispatcher links while a subcommand is still being written;
 * main reports a missing one clearly instead of pretending it ran. */
#define SL_CMD(name) int cmd_##name(int argc, char **argv) __attribute__((weak))
SL_CMD(info);
SL_CMD(tokenize);
SL_CMD(generate);
SL_CMD(convert);
SL_CMD(quantize);
SL_CMD(ppl);
SL_CMD(attn);
SL_CMD(bench);
SL_CMD(synth);
SL_CMD(train);
SL_CMD(train_tokenizer);
SL_CMD(chat);
#undef SL_CMD

#endif
