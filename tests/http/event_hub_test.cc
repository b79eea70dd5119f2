// EventHub: resume from the buffer or the backfill, reset when neither reaches, topics, wakes.
#include "http/event_hub.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>

namespace sp::http {
namespace {

std::vector<int64_t> Ids(const std::string& text) {
  std::vector<int64_t> ids;
  std::regex re("id: ([0-9]+)\n");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
       ++it) {
    ids.push_back(std::stoll((*it)[1]));
  }
  return ids;
}

HubEvent Ev(int64_t id, std::string topic = "etl") {
  return HubEvent{id, "task", "{\"n\":" + std::to_string(id) + "}", std::move(topic)};
}

TEST(EventHubTest, ANewStreamGetsOnlyWhatComesAfterIt) {
  EventHub hub(100);
  hub.Publish(Ev(1));
  auto s = hub.Subscribe(std::nullopt, "");
  EXPECT_THAT(s->Take(), ::testing::StartsWith("retry: 2000\n\n"));
  hub.Publish(Ev(2));
  EXPECT_EQ(Ids(s->Take()), std::vector<int64_t>({2}));
  EXPECT_EQ(s->Take(), "");
}

TEST(EventHubTest, AResumeFromTheBufferHasNoGapsAndNoRepeats) {
  EventHub hub(100);
  for (int i = 1; i <= 10; ++i) hub.Publish(Ev(i));
  auto s = hub.Subscribe(4, "");
  EXPECT_EQ(Ids(s->Take()), std::vector<int64_t>({5, 6, 7, 8, 9, 10}));
}

TEST(EventHubTest, OlderResumesComeFromTheBackfillOrAreReset) {
  int calls = 0;
  EventHub hub(3, [&](int64_t after, int limit) -> Result<std::vector<HubEvent>> {
    ++calls;
    std::vector<HubEvent> out;
    for (int64_t i = after + 1; i <= 10 && static_cast<int>(out.size()) < limit; ++i)
      out.push_back(Ev(i));
    return out;
  });
  for (int i = 1; i <= 10; ++i) hub.Publish(Ev(i));  // the buffer keeps 8..10
  auto s = hub.Subscribe(2, "");
  EXPECT_EQ(Ids(s->Take()), std::vector<int64_t>({3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(calls, 1);

  EventHub no_backfill(3);
  for (int i = 1; i <= 10; ++i) no_backfill.Publish(Ev(i));
  auto r = no_backfill.Subscribe(2, "");
  std::string text = r->Take();
  EXPECT_THAT(text, ::testing::HasSubstr("event: reset"));
  EXPECT_TRUE(Ids(text).empty());
  no_backfill.Publish(Ev(11));
  EXPECT_EQ(Ids(r->Take()), std::vector<int64_t>({11})) << "after a reset the stream goes on";
}

TEST(EventHubTest, AnIdFromTheFutureIsResetNotWaitedFor) {
  EventHub hub(100);
  hub.Publish(Ev(5));
  auto s = hub.Subscribe(900, "");  // another (or a reset) database's id
  EXPECT_THAT(s->Take(), ::testing::HasSubstr("event: reset"));
  hub.Publish(Ev(6));
  EXPECT_EQ(Ids(s->Take()), std::vector<int64_t>({6}));
}

TEST(EventHubTest, TopicsFilterButIdLessEventsReachEveryone) {
  EventHub hub(100);
  auto etl = hub.Subscribe(std::nullopt, "etl");
  auto all = hub.Subscribe(std::nullopt, "");
  hub.Publish(Ev(1, "etl"));
  hub.Publish(Ev(2, "other"));
  hub.Publish(HubEvent{0, "dags", "{}", ""});
  std::string e = etl->Take();
  EXPECT_EQ(Ids(e), std::vector<int64_t>({1}));
  EXPECT_THAT(e, ::testing::HasSubstr("event: dags"));
  EXPECT_EQ(Ids(all->Take()), std::vector<int64_t>({1, 2}));
}

TEST(EventHubTest, WakesAreCoalescedUntilTheStreamTakes) {
  EventHub hub(100);
  auto s = hub.Subscribe(std::nullopt, "");
  int wakes = 0;
  s->SetWaker([&] { ++wakes; });
  hub.Publish(Ev(1));
  hub.Publish(Ev(2));
  hub.Publish(Ev(3));
  EXPECT_EQ(wakes, 1);
  s->Take();
  hub.Publish(Ev(4));
  EXPECT_EQ(wakes, 2);
  EXPECT_EQ(hub.open_streams(), 1u);
  s.reset();
  EXPECT_EQ(hub.open_streams(), 0u);
}

TEST(EventHubTest, MultiLineDataStaysOneEvent) {
  EXPECT_EQ(FormatEvent(HubEvent{7, "log", "a\nb", ""}), "id: 7\nevent: log\ndata: a\ndata: b\n\n");
}

}  // namespace
}  // namespace sp::http
