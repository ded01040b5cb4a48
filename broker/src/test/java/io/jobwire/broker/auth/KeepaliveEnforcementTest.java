package io.jobwire.broker.auth;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.netty.shaded.io.netty.bootstrap.Bootstrap;
import io.grpc.netty.shaded.io.netty.channel.Channel;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandlerContext;
import io.grpc.netty.shaded.io.netty.channel.ChannelInboundHandlerAdapter;
import io.grpc.netty.shaded.io.netty.channel.ChannelInitializer;
import io.grpc.netty.shaded.io.netty.channel.nio.NioEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.socket.SocketChannel;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioSocketChannel;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.DefaultHttp2PingFrame;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Error;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.jobwire.broker.testing.BrokerFixture;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A client that pings far more often than the broker permits (every 10 s) is sent GOAWAY. */
class KeepaliveEnforcementTest {
    @Test
    void pingFloodIsAnsweredWithGoaway() throws Exception {
        try (BrokerFixture broker = BrokerFixture.start()) {
            NioEventLoopGroup group = new NioEventLoopGroup(1);
            CompletableFuture<Long> goaway = new CompletableFuture<>();
            try {
                Channel channel = new Bootstrap().group(group).channel(NioSocketChannel.class)
                        .handler(new ChannelInitializer<SocketChannel>() {
                            @Override
                            protected void initChannel(SocketChannel ch) {
                                ch.pipeline().addLast(Http2FrameCodecBuilder.forClient().build(),
                                        new ChannelInboundHandlerAdapter() {
                                            @Override
                                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                                if (msg instanceof Http2GoAwayFrame frame) {
                                                    goaway.complete(frame.errorCode());
                                                }
                                                io.grpc.netty.shaded.io.netty.util.ReferenceCountUtil.release(msg);
                                            }
                                        });
                            }
                        })
                        .connect("127.0.0.1", broker.broker().port()).sync().channel();
                for (int i = 0; i < 20 && !goaway.isDone(); i++) {
                    channel.writeAndFlush(new DefaultHttp2PingFrame(i)).sync();
                    Thread.sleep(50);
                }
                assertThat(goaway.get(10, TimeUnit.SECONDS)).isEqualTo(Http2Error.ENHANCE_YOUR_CALM.code());
                assertThat(broker.submit("keepalive.after", "{}")).as("other clients are unaffected").isNotEmpty();
            } finally {
                group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
            }
        }
    }
}
