/*  placement.c - an address's node and worker. See placement.h.
    No state: safe from any thread.
*/
#include "placement.h"
#include "cluster.h"
#include "shard.h"
#include "worker.h"

uint32_t worker_shard (const char *address, uint32_t shards)
{
    return shoal_shard (address, shards);
}

int worker_local_of (const worker_config_t *config, const char *address)
{
    return (int) (shoal_shard (address, config->shards) % (uint32_t) config->workers);
}

int worker_of (const worker_config_t *config, const char *address)
{
    uint32_t shard = shoal_shard (address, config->shards);
    if (config->cluster && cluster_owner (config->cluster, shard) != config->self_node)
        return WORKER_REMOTE;
    return (int) (shard % (uint32_t) config->workers);
}
